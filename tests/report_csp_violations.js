// Loaded into every page of the browser tests: a Content-Security-Policy violation is
// reported with the element and the code that caused it, and fails the test.
document.addEventListener("securitypolicyviolation", function (event) {
  console.error(
    "CSP violation: " + event.violatedDirective + " by " + event.sourceFile + ":" +
    event.lineNumber + ":" + event.columnNumber + " sample=" + event.sample +
    " element=" + (event.target && event.target.outerHTML ? event.target.outerHTML.slice(0, 200) : event.target)
  );
});
