// The tracker demo page (templates/analytics/tracker_demo.html): its forms call the
// browser tracker, send at once and show what the server answered. A static file, as the
// Content-Security-Policy allows no inline script.
(function () {
  "use strict";

  const root = document.getElementById("tracker-demo");
  if (!root || !window.Groupsite) return;
  const tracker = Groupsite.init({ writeKey: root.dataset.writeKey, host: root.dataset.host });
  const log = document.getElementById("demo-log");

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function link(text, href) {
    const node = element("a", "", text);
    node.href = href;
    return node;
  }

  // A key as the server writes it in a URL (analytics/urls.py, KeyConverter): "~" and
  // "/" escaped, a key of dots only spelled with "~2E", so the browser keeps it whole.
  function keySegment(key) {
    const escaped = /^\.+$/.test(key)
      ? key.replaceAll(".", "~2E")
      : key.replaceAll("~", "~7E").replaceAll("/", "~2F");
    return encodeURIComponent(escaped);
  }

  function groupUrl(type, key) {
    return `${root.dataset.groupsUrl}/${encodeURIComponent(type)}/${keySegment(key)}`;
  }

  function showState() {
    const state = tracker.state();
    const field = (name) => root.querySelector(`[data-state="${name}"]`);
    field("anonymousId").textContent = state.anonymousId;
    const user = field("userId");
    if (state.userId) {
      const search = `${root.dataset.peopleUrl}?q=${encodeURIComponent(state.userId)}`;
      user.replaceChildren(link(state.userId, search));
    } else {
      user.replaceChildren(element("span", "faint", "anonymous"));
    }
    const groups = Object.entries(state.groups);
    field("groups").replaceChildren(
      ...(groups.length
        ? groups.map(([type, key]) => {
            const chip = element("span", "badge accent", `${type}: `);
            chip.append(link(key, groupUrl(type, key)));
            return chip;
          })
        : [element("span", "faint", "none")]),
    );
    field("queued").textContent = state.queued ? `${state.queued} call(s)` : "nothing";
  }

  function outcome(result) {
    if (result.retrying) return ["warn", "not sent yet: retrying"];
    if (result.refused) return ["danger", "refused: see the console"];
    if (result.duplicates && !result.stored) return ["", "already stored"];
    return ["ok", `${result.stored} stored`];
  }

  function report(call, detail, result) {
    log.querySelector(".empty-log")?.remove();
    const [tone, text] = outcome(result);
    const entry = element("li");
    const what = element("div", "what");
    const name = element("div", "name", call);
    name.append(element("span", `badge ${tone}`, text));
    what.append(name, element("div", "detail", detail));
    entry.append(element("span", "when", new Date().toLocaleTimeString()), what);
    log.prepend(entry);
    showState();
  }

  function send(call, detail) {
    showState();
    tracker.flush().then((result) => report(call, detail, result));
  }

  const calls = {
    identify(data) {
      const traits = {};
      if (data.get("name")) traits.name = data.get("name");
      if (data.get("email")) traits.email = data.get("email");
      tracker.identify(data.get("userId"), traits);
      send(`identify ${data.get("userId")}`, JSON.stringify(traits));
    },
    group(data) {
      const properties = data.get("name") ? { name: data.get("name") } : {};
      tracker.group(data.get("type"), data.get("key"), properties);
      send(`group ${data.get("type")} ${data.get("key")}`, JSON.stringify(properties));
    },
    track(data) {
      const properties = data.get("feature") ? { feature: data.get("feature") } : {};
      tracker.track(data.get("event"), properties);
      const groups = Object.entries(tracker.state().groups).map(([type, key]) => `${type}=${key}`);
      send(`track ${data.get("event")}`, groups.length ? `in ${groups.join(", ")}` : "in no group");
    },
    page() {
      tracker.page();
      send("page", window.location.pathname);
    },
    reset() {
      tracker.reset();
      showState();
    },
  };

  root.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-call]");
    if (!form) return;
    event.preventDefault();
    calls[form.dataset.call](new FormData(form));
  });
  root.addEventListener("click", (event) => {
    const button = event.target.closest("button[type=button][data-call]");
    if (button) calls[button.dataset.call]();
  });
  showState();
})();
