// qcc status page: polls /_qcc/status and /_qcc/usage every 2 s and draws them.
// Every value from the daemon goes into the DOM as text (textContent), never as markup.
"use strict";
(function () {
  var POLL_MS = 2000;
  var KEY = "qcc-token";
  var SVG = "http://www.w3.org/2000/svg";
  var samples = []; // {t, requests, attempts, errors}: one per poll, last 5 minutes
  var timer = null;

  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function svg(tag, attrs) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, String(attrs[k]));
    return e;
  }
  function clear(e) { while (e.firstChild) e.removeChild(e.firstChild); return e; }
  function ms(v) { return v === null || v === undefined ? "-" : v.toFixed(1); }
  function pct(num, den) { return den > 0 ? (100 * num / den).toFixed(1) + " %" : "-"; }
  function usd(v) { return "$" + (v < 1 ? v.toFixed(4) : v.toFixed(2)); }
  function int(v) { return Math.round(v).toLocaleString("en-US"); }
  function dur(s) {
    if (s < 60) return s + "s";
    if (s < 3600) return Math.floor(s / 60) + "m" + (s % 60) + "s";
    if (s < 86400) return Math.floor(s / 3600) + "h" + Math.floor(s % 3600 / 60) + "m";
    return Math.floor(s / 86400) + "d" + Math.floor(s % 86400 / 3600) + "h";
  }
  function two(n) { return (n < 10 ? "0" : "") + n; }
  function time(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return String(iso);
    return d.getFullYear() + "-" + two(d.getMonth() + 1) + "-" + two(d.getDate()) + " " +
      two(d.getHours()) + ":" + two(d.getMinutes()) + ":" + two(d.getSeconds());
  }
  function allInput(t) { return t.input + t.cache_write_5m + t.cache_write_1h + t.cache_read; }

  // The token: `#token=…` bootstraps it (then leaves the address), the form asks for it.
  function bootstrap() {
    var m = /(?:^#|&)token=([^&]*)/.exec(location.hash);
    if (m) {
      sessionStorage.setItem(KEY, decodeURIComponent(m[1]));
      history.replaceState(null, "", location.pathname + location.search);
    }
  }
  function headers() {
    var t = sessionStorage.getItem(KEY);
    return t ? { "Authorization": "Bearer " + t } : {};
  }
  function Denied() {}
  function get(path) {
    return fetch(path, { headers: headers(), cache: "no-store", credentials: "omit" })
      .then(function (r) {
        if (r.status === 401) throw new Denied();
        if (!r.ok) throw new Error(path + ": HTTP " + r.status);
        return r.json();
      });
  }
  function showLogin(again) {
    $("main").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = again ? "That token was refused." : "";
    setConn("token needed", "bad");
    $("token").focus();
  }
  function setConn(text, cls) {
    var c = $("conn");
    c.textContent = text;
    c.className = "conn " + (cls || "");
  }

  function poll() {
    clearTimeout(timer);
    var usage = get("usage").catch(function (e) {
      if (e instanceof Denied) throw e;
      return null; // an older daemon: no usage, the rest still shows
    });
    Promise.all([get("status"), usage]).then(function (r) {
      $("login").hidden = true;
      $("main").hidden = false;
      render(r[0], r[1]);
      setConn("live · " + new Date().toLocaleTimeString("en-GB", { hour12: false }), "ok");
      document.body.setAttribute("data-ready", "1");
      timer = setTimeout(poll, POLL_MS);
    }, function (e) {
      if (e instanceof Denied) { showLogin(!!sessionStorage.getItem(KEY)); return; }
      setConn("daemon unreachable (" + e.message + "), retrying", "bad");
      timer = setTimeout(poll, POLL_MS);
    });
  }

  function render(st, usage) {
    usage = usage || { today: [], last_hour: [], last_week: [] };
    var eps = st.endpoints || [];
    var now = Date.now();
    var attempts = 0, errors = 0;
    eps.forEach(function (e) { attempts += e.requests; errors += e.errors; });
    samples.push({ t: now, requests: st.requests, attempts: attempts, errors: errors });
    while (samples.length > 150) samples.shift();

    $("summary").textContent = "v" + st.version + " · pid " + st.pid + " · up " +
      dur(st.uptime_secs) + " · listening on " + st.listen;
    cards(st, eps, usage, attempts, errors);
    tiers(st);
    endpoints(eps, usage.today || []);
    live();
    var hour = usage.last_hour || [], week = usage.last_week || [];
    bars($("chart-hour"), hour, "hour");
    bars($("chart-week"), week, "week");
    bars($("chart-hour-cost"), hour, "hour", true);
    bars($("chart-week-cost"), week, "week", true);
    logs(st);
  }

  function card(parent, label, value, note, cls) {
    var c = el("div", null, "card " + (cls || ""));
    c.appendChild(el("div", label, "label"));
    c.appendChild(el("div", value, "value"));
    if (note) c.appendChild(el("div", note, "note"));
    parent.appendChild(c);
  }

  function rate() {
    // Requests per second and error rate between the oldest sample of the last minute and now.
    var last = samples[samples.length - 1], first = last;
    for (var i = samples.length - 1; i >= 0 && last.t - samples[i].t <= 60000; i--) first = samples[i];
    var dt = (last.t - first.t) / 1000;
    return {
      rps: dt > 0 ? Math.max(0, last.requests - first.requests) / dt : null,
      attempts: last.attempts - first.attempts,
      errors: last.errors - first.errors,
    };
  }

  function cards(st, eps, usage, attempts, errors) {
    var c = clear($("cards"));
    var serving = st.active_profile || "-";
    var note = st.active_tier ? st.active_tier + " tier" : "";
    if (st.failed_over_from) note += (note ? " · " : "") + "failed over from " + st.failed_over_from;
    card(c, "Serving", serving, note, st.failed_over_from ? "warn" : "");
    var r = rate();
    card(c, "Requests/s", r.rps === null ? "-" : r.rps.toFixed(2),
      int(st.requests) + " total · " + st.in_flight + " in flight");
    var recent = r.attempts > 0;
    card(c, "Error rate", recent ? pct(r.errors, r.attempts) : pct(errors, attempts),
      recent ? "last minute of attempts" : int(errors) + " of " + int(attempts) + " attempts since start",
      (recent ? r.errors : errors) > 0 ? "warn" : "");
    var busy = eps.filter(function (e) { return e.p50_ms !== null && e.p50_ms !== undefined; });
    var max = function (k) {
      var v = null;
      busy.forEach(function (e) { if (e[k] !== null && e[k] !== undefined && (v === null || e[k] > v)) v = e[k]; });
      return v;
    };
    card(c, "Latency p50 / p95", ms(max("p50_ms")) + " / " + ms(max("p95_ms")) + " ms",
      "slowest endpoint, to headers");
    card(c, "First token p50 / p95", ms(max("first_byte_p50_ms")) + " / " + ms(max("first_byte_p95_ms")) + " ms",
      "slowest endpoint");
    var t = { input: 0, output: 0, cache_write_5m: 0, cache_write_1h: 0, cache_read: 0 }, cost = 0, unpriced = 0;
    (usage.today || []).forEach(function (u) {
      for (var k in t) t[k] += u.tokens[k] || 0;
      cost += u.cost_usd; unpriced += u.unpriced_requests;
    });
    if ((usage.today || []).length === 0) {
      card(c, "Tokens today", "-", "no usage recorded yet");
      card(c, "Cost today", "-", "no usage recorded yet");
    } else {
      card(c, "Tokens today", int(allInput(t) + t.output),
        "in " + int(allInput(t)) + " (cache read " + int(t.cache_read) + ") · out " + int(t.output));
      card(c, "Cost today", usd(cost), unpriced ? unpriced + " requests without a price" : "UTC day");
    }
    var q = st.queue;
    if (q) {
      card(c, "Failure queue", q.pending + " pending",
        q.retrying + " retrying · " + q.succeeded + " succeeded · " + q.dead + " dead",
        q.dead || q.pending ? "warn" : "");
    } else {
      card(c, "Failure queue", "-", "not read yet");
    }
    if (st.config_error) card(c, "Config reload refused", "previous config in force", st.config_error, "bad");
  }

  function tiers(st) {
    var box = clear($("tiers"));
    (st.tiers || []).forEach(function (t) {
      var row = el("div", null, "row");
      row.appendChild(el("span", t.tier, "tag"));
      row.appendChild(el("strong", t.profile));
      row.appendChild(el("span", t.endpoints + " endpoint" + (t.endpoints === 1 ? "" : "s")));
      row.appendChild(el("span", t.available ? "available" : "no endpoint available", t.available ? "ok" : "bad"));
      if (t.profile === st.active_profile) row.appendChild(el("span", "serving", "tag ok"));
      if (t.profile === st.chosen_profile && t.profile !== st.active_profile) row.appendChild(el("span", "chosen", "tag"));
      box.appendChild(row);
    });
    if (!(st.tiers || []).length) {
      box.appendChild(el("div", "No tiers: only " + (st.active_profile || "the active profile") + " serves.", "note"));
    }
    (st.routes || []).forEach(function (r) {
      var row = el("div", null, "row");
      row.appendChild(el("span", "route", "tag"));
      row.appendChild(el("code", r.model));
      row.appendChild(el("span", "→"));
      row.appendChild(el("strong", r.profile));
      row.appendChild(el("span", r.available ? "available" : "no endpoint available: the tiers serve", r.available ? "ok" : "bad"));
      box.appendChild(row);
    });
  }

  function endpoints(eps, today) {
    var body = clear($("endpoints").tBodies[0]);
    var byId = {};
    today.forEach(function (u) { byId[u.endpoint] = u; });
    eps.forEach(function (e) {
      var tr = el("tr");
      var u = byId[e.id];
      var weight = e.effective_weight !== e.weight ? e.weight + "→" + e.effective_weight : String(e.weight);
      var cells = [
        [e.id, "mono"], [e.name || "-"], [e.profile], [e.state, "state s-" + e.state],
        [e.cooldown_left_secs !== null && e.cooldown_left_secs !== undefined ? e.cooldown_left_secs + "s left" : "-"],
        [weight, "num"], [e.in_flight, "num"], [int(e.requests), "num"], [int(e.errors), "num"],
        [pct(e.errors, e.requests), "num"], [ms(e.p50_ms), "num"], [ms(e.p95_ms), "num"],
        [ms(e.first_byte_p50_ms) + " / " + ms(e.first_byte_p95_ms), "num"],
        [u ? int(allInput(u.tokens) + u.tokens.output) : "-", "num"],
        [u ? usd(u.cost_usd) : "-", "num"],
        [e.unavailable || e.last_error || "-", "why"],
      ];
      cells.forEach(function (c) { tr.appendChild(el("td", c[0], c[1])); });
      body.appendChild(tr);
    });
    if (!eps.length) {
      var tr = el("tr"), td = el("td", "No endpoints configured.", "note");
      td.colSpan = 16; tr.appendChild(td); body.appendChild(tr);
    }
  }

  // A bar chart in plain SVG. `points`: [{label, value, errors?, title}].
  function chart(box, points, opts) {
    clear(box);
    var W = opts.width || 600, H = 150, pad = 18;
    var slots = Math.max(points.length, opts.slots || 0);
    var max = 0;
    points.forEach(function (p) { if (p.value > max) max = p.value; });
    if (!points.length || max <= 0) {
      box.appendChild(el("div", opts.empty, "empty"));
      return;
    }
    var s = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": opts.label });
    var bw = (W - pad) / slots;
    points.forEach(function (p, i) {
      var h = (H - 2 * pad) * p.value / max;
      var x = pad + (slots - points.length + i) * bw, y = H - pad - h;
      var bar = svg("rect", { x: x + bw * 0.1, y: y, width: Math.max(1, bw * 0.8), height: h, "class": "bar" });
      var title = svg("title", {});
      title.textContent = p.title;
      bar.appendChild(title);
      s.appendChild(bar);
      if (p.errors) {
        var eh = (H - 2 * pad) * p.errors / max;
        s.appendChild(svg("rect", { x: x + bw * 0.1, y: H - pad - eh, width: Math.max(1, bw * 0.8), height: eh, "class": "bar err" }));
      }
    });
    s.appendChild(svg("line", { x1: pad, y1: H - pad, x2: W, y2: H - pad, "class": "axis" }));
    var top = svg("text", { x: pad, y: 12, "class": "tick" });
    top.textContent = opts.format(max);
    s.appendChild(top);
    var fx = pad + (slots - points.length) * bw;
    if (fx < W - 160) {
      var first = svg("text", { x: fx, y: H - 4, "class": "tick" });
      first.textContent = points[0].label;
      s.appendChild(first);
    }
    var last = svg("text", { x: W, y: H - 4, "class": "tick end" });
    last.textContent = points[points.length - 1].label;
    s.appendChild(last);
    box.appendChild(s);
  }

  function bars(box, series, period, cost) {
    var label = function (iso) {
      var d = new Date(iso);
      return period === "hour" ? d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", hour12: false })
        : d.toISOString().slice(0, 10);
    };
    var points = series.map(function (p) {
      return cost
        ? { label: label(p.at), value: p.cost_usd, title: label(p.at) + ": " + usd(p.cost_usd) }
        : { label: label(p.at), value: p.requests, errors: p.errors,
            title: label(p.at) + ": " + p.requests + " requests, " + p.errors + " errors" };
    });
    chart(box, points, {
      label: (cost ? "cost" : "requests and errors") + " over the last " + (period === "hour" ? "hour" : "7 days"),
      empty: "no usage recorded yet",
      format: cost ? usd : int,
    });
  }

  function live() {
    var points = [];
    for (var i = 1; i < samples.length; i++) {
      var a = samples[i - 1], b = samples[i], dt = (b.t - a.t) / 1000;
      var v = dt > 0 ? Math.max(0, b.requests - a.requests) / dt : 0;
      var errs = dt > 0 ? Math.max(0, b.errors - a.errors) / dt : 0;
      var at = new Date(b.t).toLocaleTimeString("en-GB", { hour12: false });
      points.push({ label: at, value: v, errors: Math.min(v, errs),
        title: at + ": " + v.toFixed(2) + " requests/s, " + errs.toFixed(2) + " failed attempts/s" });
    }
    chart($("chart-live"), points, {
      label: "requests per second",
      width: 1200,
      slots: 150,
      empty: samples.length < 2 ? "measuring…" : "no requests since this page opened",
      format: function (v) { return v.toFixed(2) + "/s"; },
    });
  }

  function logs(st) {
    var sw = clear($("switches"));
    (st.recent_switches || []).forEach(function (r) {
      var li = el("li");
      li.appendChild(el("time", time(r.at)));
      li.appendChild(el("span", r.kind, "tag"));
      li.appendChild(el("strong", (r.from || "-") + " → " + r.to));
      li.appendChild(el("span", r.reason, "why"));
      sw.appendChild(li);
    });
    if (!sw.firstChild) sw.appendChild(el("li", "No switches recorded.", "note"));
    var ch = clear($("states"));
    (st.recent_state_changes || []).forEach(function (c) {
      var li = el("li");
      li.appendChild(el("time", time(c.at)));
      li.appendChild(el("strong", (c.name || c.endpoint) + " (" + c.endpoint + ")"));
      li.appendChild(el("span", c.from, "state s-" + c.from));
      li.appendChild(el("span", "→"));
      li.appendChild(el("span", c.to, "state s-" + c.to));
      li.appendChild(el("span", c.reason, "why"));
      ch.appendChild(li);
    });
    if (!ch.firstChild) ch.appendChild(el("li", "No state changes recorded.", "note"));
  }

  document.addEventListener("DOMContentLoaded", function () {
    bootstrap();
    $("login").addEventListener("submit", function (ev) {
      ev.preventDefault();
      sessionStorage.setItem(KEY, $("token").value.trim());
      $("token").value = "";
      poll();
    });
    poll();
  });
})();
