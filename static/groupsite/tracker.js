/*
 * Groupsite's browser tracker: identify, group and track from a web page.
 *
 *   <script src="https://analytics.example.com/static/groupsite/tracker.js"></script>
 *   <script>
 *     const tracker = Groupsite.init({ writeKey: "wk_…", host: "https://analytics.example.com" });
 *     tracker.identify("user_42", { email: "ada@acme.com" });
 *     tracker.group("company", "acme-corp", { name: "Acme Corporation", plan: "enterprise" });
 *     tracker.track("feature_used", { feature: "ai_chart" });
 *   </script>
 *
 * It sends Segment-compatible calls to POST /v1/batch, as server-side Segment libraries
 * do, so both feed the same data. No dependencies and no build step; README.md ("Browser
 * tracker") describes the behaviour. Nothing here may throw into the host page.
 */
(function () {
  "use strict";

  if (window.Groupsite && window.Groupsite.init) return; // loaded twice: keep the first

  const VERSION = "0.1.0";
  // The server's limits (analytics/ingestion.py); calls over them would only be refused.
  const CALL_LIMIT = 32 * 1024;
  const BATCH_LIMIT = 500 * 1024 - 1024; // room for sentAt and the write key
  const ID_LIMIT = 255;
  // Small batches come back fast; the server would take 2,500.
  const BATCH_CALLS = 100;
  // Browsers allow 64 KB of keepalive bodies in flight per page.
  const CLOSING_LIMIT = 60 * 1024;
  // A site whose server is down for long keeps the newest calls, not the whole history.
  const QUEUE_LIMIT = 1000;
  // How long a call handed to a request is left to it: another request (this tab's or
  // another tab's, which share the queue) sends it again only after that. Long enough
  // for a slow answer, short enough that the calls of a page closed mid-request go out
  // soon from the next page.
  const LEASE = 10 * 1000;
  const RETRY_FIRST = 1000;
  const RETRY_MAX = 60 * 1000;

  // By default calls go back to the server that served this script.
  const scriptOrigin = (() => {
    try {
      return new URL(document.currentScript.src).origin;
    } catch (error) {
      return "";
    }
  })();

  function warn(...message) {
    try {
      console.warn("Groupsite tracker:", ...message);
    } catch (error) {
      // no console: nothing to tell
    }
  }

  // The server repeats a warning for every call it concerns; the console needs it once.
  const warned = new Set();
  function warnOnce(message) {
    if (warned.has(message)) return;
    warned.add(message);
    warn(message);
  }

  // For listeners and timers: what fails there is logged, never left uncaught.
  function quietly(action) {
    return () => {
      try {
        action();
      } catch (error) {
        warn(String(error));
      }
    };
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  // crypto.randomUUID exists only on https (and localhost) pages; message ids are needed
  // everywhere, so build a version 4 UUID from random bytes otherwise.
  function uuid() {
    const crypto = window.crypto;
    if (crypto && crypto.randomUUID) return crypto.randomUUID();
    const bytes = new Uint8Array(16);
    if (crypto && crypto.getRandomValues) crypto.getRandomValues(bytes);
    else for (let i = 0; i < 16; i++) bytes[i] = Math.floor(Math.random() * 256);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    const hex = Array.from(bytes, (byte) => (byte + 0x100).toString(16).slice(1)).join("");
    return [hex.slice(0, 8), hex.slice(8, 12), hex.slice(12, 16), hex.slice(16, 20), hex.slice(20)].join("-");
  }

  // An id the server accepts (a string of 1 to 255 characters), or null after a warning.
  function identifier(value, label) {
    if (typeof value === "number" && Number.isFinite(value)) value = String(value);
    if (typeof value !== "string" || value === "") {
      warn(`${label} must be a non-empty string, not ${JSON.stringify(value)}; call ignored`);
      return null;
    }
    if (value.length > ID_LIMIT) {
      warn(`${label} is ${value.length} characters, the limit is ${ID_LIMIT}; call ignored`);
      return null;
    }
    return value;
  }

  function properties(value, label) {
    if (value === undefined || value === null) return {};
    if (isObject(value)) return value;
    warn(`${label} must be an object; sent without them`);
    return {};
  }

  function pageProperties() {
    const location = window.location;
    return {
      path: location.pathname,
      referrer: document.referrer,
      search: location.search,
      title: document.title,
      url: location.href,
    };
  }

  function timezone() {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (error) {
      return undefined;
    }
  }

  // Sizes of a call's JSON: as the server counts it (Python's json.dumps writes every
  // non-ASCII UTF-16 unit as a six-character \uXXXX escape) and at most in UTF-8 bytes.
  function sizes(text) {
    const nonAscii = (text.match(/[^\x00-\x7f]/g) || []).length;
    return { server: text.length + 5 * nonAscii, bytes: text.length + 2 * nonAscii };
  }

  function storageOrNull() {
    try {
      const storage = window.localStorage;
      storage.setItem("groupsite:probe", "1");
      storage.removeItem("groupsite:probe");
      return storage;
    } catch (error) {
      return null; // blocked cookies, sandboxed frames, some private modes
    }
  }

  // State kept in localStorage, so it survives page loads and is shared by the site's
  // tabs; one key per item, named after the write key. Without usable storage (or once
  // it fails, e.g. full) the same state lives in memory for the page's lifetime.
  class Store {
    constructor(prefix) {
      this.prefix = prefix;
      this.memory = {};
      this.local = storageOrNull();
    }

    get(name) {
      if (this.local) {
        let text;
        try {
          text = this.local.getItem(this.prefix + name);
        } catch (error) {
          this.fallBack(error);
          return this.memory[name];
        }
        try {
          this.memory[name] = text === null ? undefined : JSON.parse(text);
        } catch (error) {
          this.memory[name] = undefined; // damaged by someone else: start over
        }
      }
      return this.memory[name];
    }

    set(name, value) {
      this.memory[name] = value;
      if (!this.local) return;
      try {
        if (value === undefined) this.local.removeItem(this.prefix + name);
        else this.local.setItem(this.prefix + name, JSON.stringify(value));
      } catch (error) {
        this.fallBack(error);
      }
    }

    fallBack(error) {
      warn("localStorage failed, keeping state in memory for this page:", String(error));
      this.local = null;
    }
  }

  class Tracker {
    constructor({ writeKey, host, flushAt, flushInterval }) {
      this.writeKey = writeKey;
      this.url = `${String(host).replace(/\/+$/, "")}/v1/batch`;
      this.flushAt = Math.max(1, Number(flushAt) || 20);
      this.flushInterval = Math.max(0, Number(flushInterval) || 2000);
      this.store = new Store(`groupsite:${writeKey}:`);
      this.sending = Promise.resolve(); // one request at a time, in order
      this.timer = null;
      this.timerAt = 0;
      this.retryDelay = 0;
      this.retryAt = 0;
      this.batchCalls = BATCH_CALLS;
      this.lastTime = 0;
      // Hidden is the last moment a page is sure to see: after it a phone may discard the
      // page without pagehide. Either way the request must outlive the page.
      document.addEventListener("visibilitychange", quietly(() => {
        if (document.visibilityState === "hidden") this.flushClosing();
      }));
      window.addEventListener("pagehide", quietly(() => this.flushClosing()));
      window.addEventListener("online", quietly(() => {
        this.retryAt = 0;
        this.flush();
      }));
      if (this.queue().length) this.schedule(0); // left over by an earlier page
    }

    // Identity and groups ----------------------------------------------------------

    anonymousId() {
      let id = this.store.get("anonymousId");
      if (typeof id !== "string" || !id) {
        id = uuid();
        this.store.set("anonymousId", id);
      }
      return id;
    }

    groups() {
      const groups = this.store.get("groups");
      return isObject(groups) ? groups : {};
    }

    identify(userId, traits) {
      if (isObject(userId) && traits === undefined) [userId, traits] = [undefined, userId];
      if (userId !== undefined && userId !== null) {
        userId = identifier(userId, "identify(): the user id");
        if (userId === null) return;
        const current = this.store.get("userId");
        // Another person on this browser: the last one's groups are not theirs.
        if (current && current !== userId) this.reset();
        this.store.set("userId", userId);
      }
      this.enqueue({ type: "identify", traits: properties(traits, "identify(): traits") });
    }

    group(type, key, traits) {
      type = identifier(type, "group(): the group type");
      key = identifier(key, "group(): the group key");
      if (type === null || key === null) return;
      // The server reads type names trimmed and lower-cased; so does the group context.
      type = type.trim().toLowerCase();
      this.store.set("groups", { ...this.groups(), [type]: key });
      this.enqueue({
        type: "group",
        groupId: key,
        traits: properties(traits, "group(): properties"),
        context: { groupType: type },
      });
    }

    track(event, props) {
      event = identifier(event, "track(): the event name");
      if (event === null) return;
      this.enqueue({ type: "track", event, properties: properties(props, "track(): properties") });
    }

    page(name, props) {
      if (isObject(name) && props === undefined) [name, props] = [undefined, name];
      const call = { type: "page", properties: { ...pageProperties(), ...properties(props, "page(): properties") } };
      if (name !== undefined && name !== null) {
        call.name = identifier(name, "page(): the name");
        if (call.name === null) return;
      }
      this.enqueue(call);
    }

    reset() {
      this.store.set("userId", undefined);
      this.store.set("groups", undefined);
      this.store.set("anonymousId", uuid());
    }

    state() {
      return {
        anonymousId: this.anonymousId(),
        userId: this.store.get("userId") || null,
        groups: { ...this.groups() },
        queued: this.queue().length,
      };
    }

    // The queue ------------------------------------------------------------------------

    // Strictly increasing timestamps: calls made in the same millisecond keep their order
    // on the server (a track just before group() must not count as inside the group).
    timestamp() {
      this.lastTime = Math.max(Date.now(), this.lastTime + 1);
      return new Date(this.lastTime).toISOString();
    }

    enqueue(call) {
      // Group context goes on events and group calls; an identify call is about the person.
      const groups = call.type === "identify" ? {} : this.groups();
      const context = {
        library: { name: "groupsite.js", version: VERSION },
        page: pageProperties(),
        userAgent: navigator.userAgent,
        locale: navigator.language,
        timezone: timezone(),
        ...call.context,
      };
      if (Object.keys(groups).length) context.groups = { ...groups };
      const userId = this.store.get("userId");
      const full = {
        ...call,
        messageId: uuid(),
        timestamp: this.timestamp(),
        anonymousId: this.anonymousId(),
        ...(userId ? { userId } : {}),
        context,
      };
      // A snapshot: later changes to the host's objects must not change what is sent.
      // Throws on what JSON cannot hold (cycles, BigInt): the public method catches it.
      const text = JSON.stringify(full);
      const size = sizes(text);
      if (size.server > CALL_LIMIT) {
        warn(`a ${full.type} call of ${size.server} bytes is over the 32 KB limit; not sent`);
        return;
      }
      const queue = this.queue();
      queue.push({ call: JSON.parse(text), bytes: size.bytes, lease: 0 });
      if (queue.length > QUEUE_LIMIT) {
        const dropped = queue.splice(0, queue.length - QUEUE_LIMIT);
        warn(`${dropped.length} unsent call(s) dropped: more than ${QUEUE_LIMIT} waiting`);
      }
      this.store.set("queue", queue);
      const waiting = queue.filter((item) => item.lease < Date.now()).length;
      this.schedule(waiting >= this.flushAt ? 0 : this.flushInterval);
    }

    queue() {
      const queue = this.store.get("queue");
      return Array.isArray(queue) ? queue.filter((item) => isObject(item) && isObject(item.call)) : [];
    }

    // The queue is read and written back around every change, never kept: another tab
    // may have added to it or sent part of it since.
    take(limit) {
      const now = Date.now();
      const queue = this.queue();
      const taken = [];
      let bytes = 0;
      for (const item of queue) {
        if (item.lease > now) continue; // in another request's hands
        if (taken.length >= this.batchCalls || (taken.length && bytes + item.bytes + 1 > limit)) break;
        item.lease = now + LEASE;
        bytes += item.bytes + 1;
        taken.push(item);
      }
      if (taken.length) this.store.set("queue", queue);
      return taken;
    }

    settle(items, delivered) {
      const ids = new Set(items.map((item) => item.call.messageId));
      const queue = this.queue();
      const kept = [];
      for (const item of queue) {
        if (!ids.has(item.call.messageId)) kept.push(item);
        else if (!delivered) kept.push({ ...item, lease: 0 }); // free to send again
      }
      this.store.set("queue", kept);
    }

    // Sending --------------------------------------------------------------------------

    schedule(delay) {
      delay = Math.max(delay, this.retryAt - Date.now(), 0);
      const at = Date.now() + delay;
      if (this.timer !== null && this.timerAt <= at) return;
      clearTimeout(this.timer);
      this.timerAt = at;
      this.timer = setTimeout(quietly(() => {
        this.timer = null;
        this.flush();
      }), delay);
    }

    // Sends every queued call, batch after batch, until none is left or a send fails.
    // Resolves (never rejects) with what the server said.
    flush() {
      const result = { stored: 0, duplicates: 0, refused: 0, retrying: false, queued: 0 };
      const next = () => {
        const items = this.take(BATCH_LIMIT);
        if (!items.length) return result;
        return this.send(items, false).then((outcome) => {
          for (const name of ["stored", "duplicates", "refused"]) result[name] += outcome[name] || 0;
          if (outcome.retry) {
            result.retrying = true;
            return result;
          }
          return next();
        });
      };
      this.sending = this.sending
        .then(next)
        .catch((error) => warn("sending failed:", String(error)))
        .then(() => {
          result.queued = this.queue().length;
          if (result.queued) this.schedule(this.flushInterval);
          return result;
        });
      return this.sending;
    }

    // The page is being hidden or left: hand what fits to a request that outlives it.
    // The calls stay queued until an answer says they arrived; if the page is gone by
    // then, the next page sends them again and the server recognises their messageIds.
    flushClosing() {
      const items = this.take(CLOSING_LIMIT);
      if (!items.length) return;
      if ("keepalive" in Request.prototype) this.send(items, true);
      else if (!navigator.sendBeacon(this.url, new Blob([this.body(items)], { type: "text/plain" }))) {
        this.settle(items, false);
      }
    }

    body(items) {
      // sentAt lets the server correct the timestamps for this browser's clock. The
      // write key goes in the body: beacons cannot set an Authorization header.
      return JSON.stringify({
        batch: items.map((item) => item.call),
        sentAt: new Date().toISOString(),
        writeKey: this.writeKey,
      });
    }

    send(items, closing) {
      let request;
      try {
        // A text/plain body (fetch's default for a string) needs no CORS preflight. A
        // request that hangs is given up when its lease ends, and its calls sent again.
        const timeout = !closing && window.AbortSignal && AbortSignal.timeout;
        request = fetch(this.url, {
          method: "POST",
          body: this.body(items),
          keepalive: closing,
          credentials: "omit",
          signal: timeout ? AbortSignal.timeout(LEASE) : undefined,
        });
      } catch (error) {
        request = Promise.reject(error);
      }
      return request
        .then(
          (response) => response.json().catch(() => ({})).then((answer) => this.answered(response.status, answer, items)),
          () => ({ retry: true }), // offline, DNS, connection reset, CORS misconfigured...
        )
        .then((outcome) => {
          if (outcome.retry) this.backOff();
          else this.retryDelay = this.retryAt = 0;
          this.settle(items, !outcome.retry);
          return outcome;
        })
        .catch((error) => {
          warn("sending failed:", String(error));
          return { retry: true };
        });
    }

    answered(status, answer, items) {
      answer = isObject(answer) ? answer : {};
      const counts = { stored: Number(answer.stored) || 0, duplicates: Number(answer.duplicates) || 0 };
      if (status >= 200 && status < 300) {
        // Stored, but part of a call was ignored (say, a group type the workspace lacks).
        for (const warning of [].concat(answer.warnings || [])) {
          warnOnce(String(isObject(warning) ? warning.warning : warning));
        }
        return counts;
      }
      if (status === 408 || status === 429 || status >= 500) return { retry: true };
      if (status === 413 && items.length > 1) {
        // Larger than the server takes after all: send it again in smaller batches.
        this.batchCalls = Math.max(1, Math.floor(items.length / 2));
        return { retry: true };
      }
      if (Array.isArray(answer.rejected)) {
        // The server kept the rest; the refused calls would be refused again.
        for (const problem of answer.rejected.filter(isObject)) {
          warnOnce(`a ${problem.type} call was refused: ${problem.error}`);
        }
        return { ...counts, refused: answer.rejected.length };
      }
      warn(`the server refused ${items.length} call(s) (HTTP ${status}): ${answer.message || "no reason given"}`);
      return { refused: items.length };
    }

    backOff() {
      // 1 s, 2 s, 4 s… up to a minute, with jitter so that many pages do not retry at once.
      this.retryDelay = Math.min(this.retryDelay ? this.retryDelay * 2 : RETRY_FIRST, RETRY_MAX);
      this.retryAt = Date.now() + this.retryDelay * (0.75 + Math.random() / 2);
    }
  }

  // What the host page gets: every method catches its own errors, so a mistake in a call
  // (or a browser without storage) never breaks the page that tracks.
  function facade(tracker) {
    const guard = (name, fallback) => (...args) => {
      try {
        return tracker ? tracker[name](...args) : fallback();
      } catch (error) {
        warn(`${name}() failed:`, String(error));
        return fallback();
      }
    };
    const nothing = () => undefined;
    const idle = () => Promise.resolve({ stored: 0, duplicates: 0, refused: 0, retrying: false, queued: 0 });
    return Object.freeze({
      identify: guard("identify", nothing),
      group: guard("group", nothing),
      track: guard("track", nothing),
      page: guard("page", nothing),
      reset: guard("reset", nothing),
      flush: guard("flush", idle),
      state: guard("state", () => ({ anonymousId: null, userId: null, groups: {}, queued: 0 })),
    });
  }

  const trackers = {};

  window.Groupsite = Object.freeze({
    version: VERSION,
    /**
     * The tracker for a write key, created on the first call: { writeKey, host (default:
     * where this script came from), flushAt (calls, 20), flushInterval (ms, 2000) }.
     */
    init(options) {
      try {
        const { writeKey, host = scriptOrigin } = options || {};
        if (typeof writeKey !== "string" || !writeKey) {
          warn("Groupsite.init() needs { writeKey: \"wk_…\" }; nothing will be sent");
          return facade(null);
        }
        if (!trackers[writeKey]) trackers[writeKey] = facade(new Tracker({ ...options, host }));
        return trackers[writeKey];
      } catch (error) {
        warn("init() failed, nothing will be sent:", String(error));
        return facade(null);
      }
    },
  });
})();
