// Small enhancements on top of pages that work without JavaScript.
(function () {
  "use strict";

  // Selects and checkboxes marked data-autosubmit submit their form on change (the
  // workspace switcher, table filters, a report's settings); without JavaScript the form
  // has its own button.
  document.addEventListener("change", function (event) {
    var target = event.target;
    if (target.matches && target.matches("select[data-autosubmit], input[type=checkbox][data-autosubmit]")) {
      target.form.requestSubmit ? target.form.requestSubmit() : target.form.submit();
    }
  });

  // Buttons marked data-copy copy the text of the element they point at. They come
  // hidden, and show only where they work: with JavaScript and a clipboard (HTTPS or
  // localhost); elsewhere the text stays there to select.
  function showCopyButtons(root) {
    if (!navigator.clipboard) return;
    root.querySelectorAll("[data-copy][hidden]").forEach(function (button) {
      button.hidden = false;
    });
  }
  showCopyButtons(document);
  document.addEventListener("htmx:load", function (event) { showCopyButtons(event.target); });

  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      var label = button.textContent;
      button.textContent = "Copied";
      setTimeout(function () { button.textContent = label; }, 1500);
    });
  });
})();
