// WedSync monitor dashboard: live updates over Server-Sent Events, a stale-connection
// watchdog, replay confirmation and bucket details. Plain JS, no framework, no build step.
// Loaded with `defer` from /dashboard/assets/app.js; the page has no inline script.
(function () {
  "use strict";

  var STALE_AFTER_MS = 12000; // no message for this long: the data is stale
  var ERROR_GRACE_MS = 3000; // an error that lasts this long: the data is stale
  var WATCHDOG_MS = 1000;

  var body = document.body;
  var stats = { lastEventAt: 0, events: 0, lastAt: 0, state: body.dataset.state || "live" };
  window.__dashboard = stats;

  var lastMessage = Date.now(); // the page itself was rendered just now
  var errorSince = 0;
  var lastAtText = null;
  var lastHtml = Object.create(null); // fragment id -> last HTML applied
  var source = null;
  var reopenDelay = 2000;
  var reopenAt = 0;

  function byId(id) {
    return document.getElementById(id);
  }

  function lastUpdateEl() {
    var el = byId("last-update");
    if (!el) {
      el = document.createElement("time");
      el.id = "last-update";
    }
    return el;
  }

  function setConnection(live) {
    var conn = byId("connection");
    if (!conn) {
      return;
    }
    var time = lastUpdateEl();
    if (lastAtText !== null) {
      time.textContent = lastAtText;
    }
    if (live) {
      conn.replaceChildren("Live · last update ", time);
    } else {
      conn.replaceChildren("Connection lost — last update ", time, ". Data may be out of date.");
    }
  }

  function goLive() {
    body.dataset.state = "live";
    stats.state = "live";
    setConnection(true);
  }

  function goStale() {
    if (body.dataset.state === "stale") {
      return;
    }
    body.dataset.state = "stale";
    stats.state = "stale";
    setConnection(false);
  }

  var FOCUSABLE = "a[href], button, input, select, textarea, summary, [tabindex]";

  // Replace one live region, keeping open <details> and keyboard focus where they were.
  function replaceFragment(id, html) {
    if (lastHtml[id] === html) {
      return;
    }
    var el = byId(id);
    if (!el) {
      // A service added since the page loaded: append its row.
      var tbody = id.indexOf("svc-") === 0 ? document.querySelector("#services tbody") : null;
      if (tbody) {
        tbody.insertAdjacentHTML("beforeend", html);
        lastHtml[id] = html;
      }
      return;
    }
    var open = [];
    el.querySelectorAll("details").forEach(function (d, i) {
      if (d.open) {
        open.push(i);
      }
    });
    var focusIndex = -1;
    var active = document.activeElement;
    if (active && active !== el && el.contains(active)) {
      focusIndex = Array.prototype.indexOf.call(el.querySelectorAll(FOCUSABLE), active);
    }
    el.outerHTML = html;
    lastHtml[id] = html;
    var fresh = byId(id);
    if (!fresh) {
      return;
    }
    if (open.length) {
      var details = fresh.querySelectorAll("details");
      open.forEach(function (i) {
        if (details[i]) {
          details[i].open = true;
        }
      });
    }
    if (focusIndex >= 0) {
      var target = fresh.querySelectorAll(FOCUSABLE)[focusIndex];
      if (target) {
        target.focus({ preventScroll: true });
      }
    }
  }

  function received(data) {
    lastMessage = Date.now();
    errorSince = 0;
    reopenDelay = 2000;
    stats.lastEventAt = lastMessage;
    stats.events += 1;
    if (data && typeof data.at === "number") {
      stats.lastAt = data.at;
      var time = byId("last-update");
      if (time) {
        time.dateTime = new Date(data.at).toISOString();
      }
    }
    if (data && typeof data.at_text === "string") {
      lastAtText = data.at_text;
    }
    goLive();
  }

  function parse(ev) {
    try {
      return JSON.parse(ev.data);
    } catch (e) {
      return null;
    }
  }

  function onUpdate(ev) {
    var data = parse(ev);
    if (!data) {
      return;
    }
    var fragments = data.fragments || {};
    Object.keys(fragments).forEach(function (id) {
      replaceFragment(id, fragments[id]);
    });
    received(data);
  }

  function onHeartbeat(ev) {
    received(parse(ev));
  }

  function onError() {
    if (!errorSince) {
      errorSince = Date.now();
    }
    if (source && source.readyState === EventSource.CLOSED) {
      // The browser gave up (e.g. the server answered 401 or 503): reopen from the watchdog.
      reopenAt = Date.now() + reopenDelay;
      reopenDelay = Math.min(reopenDelay * 2, 60000);
    }
  }

  function connect() {
    if (!document.body.dataset.events || typeof EventSource === "undefined") {
      return;
    }
    if (source) {
      source.close();
    }
    source = new EventSource(document.body.dataset.events);
    source.addEventListener("update", onUpdate);
    source.addEventListener("heartbeat", onHeartbeat);
    source.addEventListener("error", onError);
    source.addEventListener("open", function () {
      errorSince = 0;
    });
    reopenAt = 0;
  }

  // The watchdog: the only timer on the page.
  function watchdog() {
    var now = Date.now();
    var silent = now - lastMessage > STALE_AFTER_MS;
    var failing =
      errorSince &&
      now - errorSince > ERROR_GRACE_MS &&
      (!source || source.readyState !== EventSource.OPEN);
    if (silent || failing) {
      goStale();
    }
    if (source && source.readyState === EventSource.CLOSED && reopenAt && now >= reopenAt) {
      connect();
    }
  }

  // Replay needs a confirmation; delegated so that it survives fragment replacement.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!(form instanceof HTMLFormElement) || !form.matches("form.replay")) {
      return;
    }
    var input = form.querySelector("input[name=delivery_id]");
    var id = input ? input.value : "";
    if (!window.confirm("Replay delivery " + id + "? The handler will receive it again.")) {
      ev.preventDefault();
    }
  });

  // Bucket details: focus or tap shows the label in #bucket-info (hover uses the title).
  function showBucket(ev) {
    var t = ev.target;
    if (!(t instanceof Element) || !t.classList.contains("bucket")) {
      return;
    }
    var info = byId("bucket-info");
    if (info) {
      info.textContent = t.getAttribute("aria-label") || "";
    }
  }
  document.addEventListener("focusin", showBucket);
  document.addEventListener("click", showBucket);
  // A bar is one tab stop; the arrow keys, Home and End move along its buckets (roving tabindex).
  document.addEventListener("keydown", function (ev) {
    var t = ev.target;
    if (t instanceof Element && t.classList.contains("bucket")) {
      var items = Array.prototype.slice.call(t.parentElement.children);
      var i = items.indexOf(t);
      var next = { ArrowLeft: i - 1, ArrowRight: i + 1, Home: 0, End: items.length - 1 }[ev.key];
      if (next !== undefined && next >= 0 && next < items.length && next !== i) {
        ev.preventDefault();
        t.setAttribute("tabindex", "-1");
        items[next].setAttribute("tabindex", "0");
        items[next].focus();
        return;
      }
    }
    if (ev.key === "Escape") {
      var info = byId("bucket-info");
      if (info) {
        info.textContent = "";
      }
    }
  });

  if (body.dataset.events) {
    connect();
    setInterval(watchdog, WATCHDOG_MS);
  }
})();
