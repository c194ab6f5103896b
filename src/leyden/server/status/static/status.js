// Leyden's status page: fetch the page's body again every few seconds and swap it in; select
// an event without a reload; retry a dead letter through the deliveries API. No framework.
"use strict";
(function () {
  var live = document.getElementById("live");
  var state = document.getElementById("live-state");
  if (!live || !state) return;
  var every = Math.max(1, Number(live.dataset.refresh) || 3) * 1000;
  var query = live.dataset.query || "";
  var timer = null;
  var busy = false;
  var again = false;
  var retryMessage = "";

  function say(text, stale) {
    state.querySelector(".text").textContent = text;
    state.classList.toggle("stale", stale);
  }

  // an absolute URL on this origin: a page opened as http://user:password@host/ has its
  // credentials in its own URL, and fetch refuses a URL that carries them
  function here(path) {
    return new URL(path, location.origin).href;
  }

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  // Discord shows times in the reader's zone; the server wrote them in UTC
  function localTimes() {
    var times = live.querySelectorAll("time.local[datetime]");
    for (var i = 0; i < times.length; i++) {
      var t = new Date(times[i].getAttribute("datetime"));
      if (isNaN(t.getTime())) continue;
      var style = times[i].dataset.style || "f";
      var day = t.getFullYear() + "-" + pad(t.getMonth() + 1) + "-" + pad(t.getDate());
      var clock = pad(t.getHours()) + ":" + pad(t.getMinutes());
      var text = style === "t" ? clock : style === "T" ? clock + ":" + pad(t.getSeconds())
        : style === "d" || style === "D" ? day : day + " " + clock;
      times[i].textContent = text;
    }
  }

  function swap(html) {
    var open = [];
    var opened = live.querySelectorAll("details[open][id]");
    for (var i = 0; i < opened.length; i++) open.push(opened[i].id);
    live.innerHTML = html;
    for (var j = 0; j < open.length; j++) {
      var d = document.getElementById(open[j]);
      if (d) d.open = true;
    }
    var notice = document.getElementById("retry-result");
    if (notice) notice.textContent = retryMessage;
    localTimes();
  }

  function schedule(delay) {
    clearTimeout(timer);
    timer = setTimeout(refresh, delay);
  }

  function refresh() {
    if (document.hidden) return; // a hidden tab asks nothing; it refreshes when shown
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(here(live.dataset.src + (query ? "?" + query : "")), { cache: "no-store", credentials: "same-origin" })
      .then(function (resp) {
        if (!resp.ok) throw new Error("HTTP " + resp.status);
        return resp.text();
      })
      .then(function (html) {
        swap(html);
        var now = new Date();
        say("live, updated " + pad(now.getHours()) + ":" + pad(now.getMinutes()) + ":" + pad(now.getSeconds()), false);
      })
      .catch(function (err) {
        say("not updated: " + err.message + "; trying again", true);
      })
      .then(function () {
        busy = false;
        schedule(again ? 0 : every);
        again = false;
      });
  }

  function select(link) {
    var url = new URL(link.href, location.href);
    query = url.search.replace(/^\?/, "");
    history.replaceState(null, "", url.pathname + url.search);
    schedule(0);
  }

  function retry(button) {
    button.disabled = true;
    fetch(here(button.dataset.retry), { method: "POST", credentials: "same-origin" })
      .then(function (resp) {
        return resp.json().catch(function () { return {}; }).then(function (body) {
          retryMessage = resp.ok
            ? "Delivery " + (body.id || "") + " is queued again: it is sent now."
            : "Retry refused: " + (body.error || "HTTP " + resp.status);
        });
      })
      .catch(function (err) { retryMessage = "Retry failed: " + err.message; })
      .then(function () { schedule(0); });
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (!(target instanceof Element)) return;
    var link = target.closest("a[data-select]");
    if (link && !event.ctrlKey && !event.metaKey && !event.shiftKey) {
      event.preventDefault();
      select(link);
      return;
    }
    var button = target.closest("button[data-retry]");
    if (button) retry(button);
  });

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) schedule(0);
  });

  localTimes();
  schedule(every);
})();
