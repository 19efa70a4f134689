/* lapse report page script. Renders the findings and identities held in #data (columnar JSON,
   layout documented in src/render/html/data.rs) a page at a time. Data only ever reaches the
   page through createElement + textContent (or DOM properties), never parsed as markup. */
(function () {
  "use strict";
  var SEV = ["info", "low", "medium", "high", "critical"];
  var PAGE = 100;
  var DETAIL_ROWS = 200;

  function $(id) { return document.getElementById(id); }
  function node(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    return e;
  }
  function clear(e) { while (e.firstChild) { e.removeChild(e.firstChild); } }
  function strCmp(a, b) { return a < b ? -1 : (a > b ? 1 : 0); }
  function anchor(ruleId) { return "rule-" + ruleId.replace(/[^A-Za-z0-9_-]/g, "_"); }

  var D;
  try {
    D = JSON.parse($("data").textContent);
  } catch (err) {
    $("row-count").textContent = "The report data could not be read: " + err;
    return;
  }
  var S = D.s || [], F = D.f || {}, I = D.i || {}, X = D.x || [], P = D.p || {};
  var NF = (F.risk || []).length, NI = (I.n || []).length;

  function str(i) { return i >= 0 ? S[i] : ""; }
  function resourceId(code, name) { return S[Math.floor(code / 2)] + (code % 2 === 1 ? name : ""); }
  function findingId(i) { return resourceId(F.rid[i], S[F.name[i]]); }
  function identityId(k) { return resourceId(I.rid[k], S[I.name[k]]); }
  function badge(sev) { return node("span", "badge sev-" + SEV[sev], SEV[sev]); }
  function pair(dl, label, value) {
    if (value === undefined || value === null || value === "") { return; }
    dl.appendChild(node("dt", null, label));
    var dd = node("dd");
    if (value instanceof Node) { dd.appendChild(value); } else { dd.textContent = String(value); }
    dl.appendChild(dd);
  }
  function detailHead(panel, title, close) {
    var head = node("div", "detail-head");
    head.appendChild(node("h3", null, title));
    var button = node("button", null, "Close");
    button.type = "button";
    button.addEventListener("click", close);
    head.appendChild(button);
    panel.appendChild(head);
  }

  /* ---- findings table ---------------------------------------------------------------- */
  var fState = { sev: "", fam: "", prov: "", text: "", sup: false, sort: "risk", dir: -1, page: 0 };
  var fView = [];
  var haystack = null;

  function buildHaystack() {
    haystack = new Array(NF);
    for (var i = 0; i < NF; i++) {
      haystack[i] = [S[F.rule[i]], S[F.title[i]], S[F.name[i]], findingId(i), F.fp[i],
        S[F.kind[i]], str(F.loc[i])].join("\n").toLowerCase();
    }
  }

  var COMPARE = {
    risk: function (a, b) { return F.risk[a] - F.risk[b] || F.sev[a] - F.sev[b]; },
    severity: function (a, b) { return F.sev[a] - F.sev[b] || F.risk[a] - F.risk[b]; },
    rule: function (a, b) { return strCmp(S[F.rule[a]], S[F.rule[b]]); },
    resource: function (a, b) {
      return strCmp(S[F.name[a]], S[F.name[b]]) || strCmp(findingId(a), findingId(b));
    }
  };

  function filterFindings() {
    var sev = fState.sev === "" ? -1 : SEV.indexOf(fState.sev);
    var fam = fState.fam === "" ? -1 : S.indexOf(fState.fam);
    var prov = fState.prov === "" ? -1 : S.indexOf(fState.prov);
    var terms = fState.text.toLowerCase().split(/\s+/).filter(Boolean);
    if (terms.length && !haystack) { buildHaystack(); }
    fView = [];
    for (var i = 0; i < NF; i++) {
      if (!fState.sup && F.sup[i] >= 0) { continue; }
      if (fState.sev !== "" && F.sev[i] !== sev) { continue; }
      if (fState.fam !== "" && F.fam[i] !== fam) { continue; }
      if (fState.prov !== "" && F.prov[i] !== prov) { continue; }
      var ok = true;
      for (var t = 0; t < terms.length && ok; t++) { ok = haystack[i].indexOf(terms[t]) !== -1; }
      if (ok) { fView.push(i); }
    }
    sortFindings();
  }

  function sortFindings() {
    var cmp = COMPARE[fState.sort], dir = fState.dir;
    fView.sort(function (a, b) { return dir * cmp(a, b) || a - b; });
    fState.page = 0;
    renderFindings();
  }

  function findingRow(i) {
    var tr = node("tr");
    tr.tabIndex = 0;
    tr.dataset.index = String(i);
    var sevCell = node("td");
    sevCell.appendChild(badge(F.sev[i]));
    tr.appendChild(sevCell);
    tr.appendChild(node("td", "num", F.risk[i]));
    tr.appendChild(node("td", "mono", S[F.rule[i]]));
    var title = node("td", null, S[F.title[i]]);
    if (F.sup[i] >= 0) { title.appendChild(node("span", "tag", "suppressed")); }
    tr.appendChild(title);
    tr.appendChild(node("td", "muted", S[F.prov[i]] + " " + S[F.kind[i]]));
    var resource = node("td", "resource", S[F.name[i]]);
    resource.title = findingId(i);
    tr.appendChild(resource);
    return tr;
  }

  function renderFindings() {
    var body = $("findings-body");
    clear(body);
    var pages = Math.max(1, Math.ceil(fView.length / PAGE));
    if (fState.page >= pages) { fState.page = pages - 1; }
    var start = fState.page * PAGE, end = Math.min(fView.length, start + PAGE);
    var frag = document.createDocumentFragment();
    for (var k = start; k < end; k++) { frag.appendChild(findingRow(fView[k])); }
    body.appendChild(frag);
    $("row-count").textContent = fView.length + " of " + NF + " findings" +
      (fView.length ? " (showing " + (start + 1) + "–" + end + ")" : "");
    $("page-info").textContent = "Page " + (fState.page + 1) + " of " + pages;
    $("page-prev").disabled = fState.page === 0;
    $("page-next").disabled = fState.page >= pages - 1;
    ["risk", "severity", "rule", "resource"].forEach(function (key) {
      var button = $("sort-" + key);
      if (key === fState.sort) {
        button.setAttribute("aria-sort", fState.dir < 0 ? "descending" : "ascending");
      } else {
        button.removeAttribute("aria-sort");
      }
    });
  }

  function showFinding(i) {
    var panel = $("detail");
    clear(panel);
    panel.hidden = false;
    detailHead(panel, S[F.title[i]], function () { panel.hidden = true; });
    var dl = node("dl");
    var rule = node("a", "mono", S[F.rule[i]]);
    rule.href = "#" + anchor(S[F.rule[i]]);
    pair(dl, "Rule", rule);
    var sev = node("span");
    sev.appendChild(badge(F.sev[i]));
    sev.appendChild(document.createTextNode(" risk " + F.risk[i] + " / 100"));
    pair(dl, "Severity", sev);
    pair(dl, "Family", S[F.fam[i]]);
    pair(dl, "Resource", S[F.prov[i]] + " " + S[F.kind[i]] + " " + S[F.name[i]]);
    pair(dl, "Resource id", findingId(i));
    pair(dl, "Principal", str(F.pid[i]));
    if (F.held && F.held[i] >= 0) { pair(dl, "Held by", S[F.held[i]]); }
    if (F.loc[i] >= 0) { pair(dl, "Location", S[F.loc[i]] + (F.line[i] ? ":" + F.line[i] : "")); }
    pair(dl, "Fingerprint", F.fp[i]);
    pair(dl, "Suppressed", str(F.sup[i]));
    panel.appendChild(dl);
    if (F.x && F.x[i] >= 0 && X[F.x[i]]) { panel.appendChild(escalation(X[F.x[i]])); }
    panel.appendChild(node("h4", null, "Evidence"));
    var ev = F.ev[i] || [];
    if (ev.length) {
      var table = node("table");
      for (var k = 0; k + 1 < ev.length; k += 2) {
        var tr = node("tr");
        tr.appendChild(node("th", "mono", S[ev[k]]));
        tr.appendChild(node("td", "mono", S[ev[k + 1]]));
        table.appendChild(tr);
      }
      panel.appendChild(table);
    } else {
      panel.appendChild(node("p", "muted", "No evidence recorded."));
    }
    panel.appendChild(node("h4", null, "Remediation"));
    panel.appendChild(node("p", "prose", S[F.rem[i]]));
    panel.scrollIntoView({ block: "nearest" });
  }

  /* The escalation drill-down: the chain hop by hop, each path the principal can take with
     its catalogue entry (steps, what each must reach, what it yields, sources), the conditions
     it relies on and what a boundary or SCP took away. */
  function pathKey(id) { return "path-" + String(id).replace(/[^A-Za-z0-9_-]/g, "_"); }
  function escalation(x) {
    var box = node("div", "escalation");
    box.appendChild(node("h4", null, "Escalation"));
    if (x.h.length) {
      box.appendChild(node("p", "muted", "How it gets there, hop by hop:"));
      var ol = node("ol", "chain");
      x.h.forEach(function (hop) {
        var li = node("li");
        if (hop[1] < 0) { li.appendChild(node("span", "muted", S[hop[0]])); ol.appendChild(li); return; }
        li.appendChild(node("span", "mono hop-from", S[hop[0]]));
        li.appendChild(document.createTextNode(" → "));
        li.appendChild(node("span", "mono hop-to", S[hop[1]]));
        li.appendChild(document.createTextNode(" via "));
        var via = node("a", "mono hop-path", S[hop[2]]);
        via.href = "#" + pathKey(S[hop[2]]);
        via.addEventListener("click", function (e) {
          e.preventDefault();
          var target = box.querySelector("#" + pathKey(S[hop[2]]));
          if (target) { target.open = true; target.scrollIntoView({ block: "nearest" }); }
        });
        li.appendChild(via);
        if (hop[3] >= 0) {
          li.appendChild(document.createTextNode(" on "));
          li.appendChild(node("span", "mono hop-on", S[hop[3]]));
        }
        ol.appendChild(li);
      });
      box.appendChild(ol);
    }
    x.p.forEach(function (p, n) {
      var id = S[p], entry = P[id];
      var details = node("details", "path");
      details.id = pathKey(id);
      if (n === 0) { details.open = true; }
      var summary = node("summary");
      summary.appendChild(node("span", "mono", id));
      summary.appendChild(document.createTextNode(" " + (entry ? entry.t : "(not in the built-in catalogue)")));
      details.appendChild(summary);
      if (entry) {
        var dl = node("dl");
        pair(dl, "Yields", entry.y);
        pair(dl, "Sources", entry.src.join("; "));
        details.appendChild(dl);
        var table = node("table", "steps");
        var head = node("tr");
        head.appendChild(node("th", null, "Action (all needed)"));
        head.appendChild(node("th", null, "Its Resource must reach"));
        table.appendChild(head);
        entry.st.forEach(function (step) {
          var tr = node("tr");
          tr.appendChild(node("td", "mono", step[0]));
          tr.appendChild(node("td", null, step[1]));
          table.appendChild(tr);
        });
        details.appendChild(table);
      }
      box.appendChild(details);
    });
    function list(title, cls, items) {
      if (!items.length) { return; }
      box.appendChild(node("h5", null, title));
      var ul = node("ul", cls);
      items.forEach(function (t) { ul.appendChild(node("li", "mono", S[t])); });
      box.appendChild(ul);
    }
    list("Holds only when (a condition lapse cannot decide)", "conditions", x.c);
    list("Reduced by a permissions boundary or SCP", "reduced", x.r);
    return box;
  }

  function bindFindings() {
    function on(id, key, ev) {
      $(id).addEventListener(ev, function (e) {
        fState[key] = e.target.type === "checkbox" ? e.target.checked : e.target.value;
        filterFindings();
      });
    }
    on("filter-severity", "sev", "change");
    on("filter-family", "fam", "change");
    on("filter-provider", "prov", "change");
    on("filter-text", "text", "input");
    on("filter-suppressed", "sup", "change");
    ["risk", "severity", "rule", "resource"].forEach(function (key) {
      $("sort-" + key).addEventListener("click", function () {
        if (fState.sort === key) {
          fState.dir = -fState.dir;
        } else {
          fState.sort = key;
          fState.dir = key === "risk" || key === "severity" ? -1 : 1;
        }
        sortFindings();
      });
    });
    $("page-prev").addEventListener("click", function () { fState.page--; renderFindings(); });
    $("page-next").addEventListener("click", function () { fState.page++; renderFindings(); });
    var body = $("findings-body");
    function open(e) {
      var tr = e.target.closest("tr");
      if (tr && tr.dataset.index !== undefined) { showFinding(Number(tr.dataset.index)); }
    }
    body.addEventListener("click", open);
    body.addEventListener("keydown", function (e) { if (e.key === "Enter") { open(e); } });
  }

  /* ---- identities ------------------------------------------------------------------- */
  var iState = { text: "", page: 0 };
  var iView = [];
  var owners = null;

  function findingsOf(k) {
    if (!owners) {
      var index = new Map();
      for (var j = 0; j < NI; j++) { index.set(identityId(j), j); }
      owners = new Map();
      for (var i = 0; i < NF; i++) {
        var owner = F.pid[i] >= 0 && index.has(S[F.pid[i]]) ? index.get(S[F.pid[i]]) : index.get(findingId(i));
        if (owner === undefined) { continue; }
        if (!owners.has(owner)) { owners.set(owner, []); }
        owners.get(owner).push(i);
      }
    }
    return owners.get(k) || [];
  }

  function filterIdentities() {
    var terms = iState.text.toLowerCase().split(/\s+/).filter(Boolean);
    iView = [];
    for (var k = 0; k < NI; k++) {
      var ok = true;
      if (terms.length) {
        var hay = [S[I.name[k]], identityId(k), S[I.scope[k]], S[I.kind[k]], S[I.win[k]],
          S[I.priv[k]]].concat(I.grants[k].map(str)).join("\n").toLowerCase();
        for (var t = 0; t < terms.length && ok; t++) { ok = hay.indexOf(terms[t]) !== -1; }
      }
      if (ok) { iView.push(k); }
    }
    iView.sort(function (a, b) { return I.max[b] - I.max[a] || I.n[b] - I.n[a] || a - b; });
    iState.page = 0;
    renderIdentities();
  }

  function days(n) { return n >= 0 ? n : "–"; }

  function identityRow(k) {
    var tr = node("tr");
    tr.tabIndex = 0;
    tr.dataset.index = String(k);
    var who = node("td");
    who.appendChild(node("div", null, S[I.name[k]]));
    who.appendChild(node("div", "muted", S[I.prov[k]] + " " + S[I.kind[k]]));
    who.title = identityId(k);
    tr.appendChild(who);
    tr.appendChild(node("td", "mono", S[I.scope[k]]));
    tr.appendChild(node("td", null, S[I.priv[k]]));
    tr.appendChild(node("td", "win-" + S[I.win[k]].replace(/[^a-z]/g, ""), S[I.win[k]]));
    tr.appendChild(node("td", null, str(I.exp[k]) || "never"));
    tr.appendChild(node("td", "num", I.cred[k]));
    tr.appendChild(node("td", "num", days(I.age[k])));
    tr.appendChild(node("td", "num", days(I.idle[k])));
    var found = node("td");
    if (I.max[k] >= 0) { found.appendChild(badge(I.max[k])); }
    found.appendChild(document.createTextNode(" " + I.n[k]));
    tr.appendChild(found);
    return tr;
  }

  function renderIdentities() {
    var body = $("identities-body");
    clear(body);
    var pages = Math.max(1, Math.ceil(iView.length / PAGE));
    if (iState.page >= pages) { iState.page = pages - 1; }
    var start = iState.page * PAGE, end = Math.min(iView.length, start + PAGE);
    var frag = document.createDocumentFragment();
    for (var k = start; k < end; k++) { frag.appendChild(identityRow(iView[k])); }
    body.appendChild(frag);
    $("identity-info").textContent = iView.length + " of " + NI + " identities · page " +
      (iState.page + 1) + " of " + pages;
    $("identity-prev").disabled = iState.page === 0;
    $("identity-next").disabled = iState.page >= pages - 1;
  }

  function showIdentity(k) {
    var panel = $("identity-detail");
    clear(panel);
    panel.hidden = false;
    detailHead(panel, S[I.name[k]], function () { panel.hidden = true; });
    var dl = node("dl");
    pair(dl, "Identity", S[I.prov[k]] + " " + S[I.kind[k]]);
    pair(dl, "Id", identityId(k));
    pair(dl, "Scope", S[I.scope[k]]);
    pair(dl, "Privilege", S[I.priv[k]]);
    pair(dl, "Window", S[I.win[k]] + (I.exp[k] >= 0 ? " until " + S[I.exp[k]] : ""));
    pair(dl, "Access", S[I.acc[k]]);
    pair(dl, "Active credentials", I.cred[k]);
    pair(dl, "Oldest credential", I.age[k] >= 0 ? I.age[k] + " days" : "unknown");
    pair(dl, "Idle", I.idle[k] >= 0 ? I.idle[k] + " days" : "unknown");
    panel.appendChild(dl);
    panel.appendChild(node("h4", null, "Grants"));
    var grants = node("ul");
    I.grants[k].forEach(function (g) { grants.appendChild(node("li", "mono", S[g])); });
    if (!I.grants[k].length) { grants.appendChild(node("li", "muted", "none")); }
    panel.appendChild(grants);
    if (I.pg[k].length) {
      panel.appendChild(node("h4", null, "Provisional grants"));
      var provisional = node("ul");
      I.pg[k].forEach(function (g) { provisional.appendChild(node("li", null, S[g])); });
      panel.appendChild(provisional);
    }
    var mine = findingsOf(k);
    panel.appendChild(node("h4", null, "Findings (" + mine.length + ")"));
    var list = node("ul");
    mine.slice(0, DETAIL_ROWS).forEach(function (i) {
      var li = node("li");
      li.appendChild(badge(F.sev[i]));
      var link = node("a", null, " " + S[F.rule[i]] + ": " + S[F.title[i]]);
      link.href = "#detail";
      link.addEventListener("click", function () { showFinding(i); });
      li.appendChild(link);
      list.appendChild(li);
    });
    if (mine.length > DETAIL_ROWS) {
      list.appendChild(node("li", "muted", "… " + (mine.length - DETAIL_ROWS) + " more: search the findings table"));
    }
    panel.appendChild(list);
    panel.scrollIntoView({ block: "nearest" });
  }

  function bindIdentities() {
    $("identity-filter").addEventListener("input", function (e) {
      iState.text = e.target.value;
      filterIdentities();
    });
    $("identity-prev").addEventListener("click", function () { iState.page--; renderIdentities(); });
    $("identity-next").addEventListener("click", function () { iState.page++; renderIdentities(); });
    var body = $("identities-body");
    function open(e) {
      var tr = e.target.closest("tr");
      if (tr && tr.dataset.index !== undefined) { showIdentity(Number(tr.dataset.index)); }
    }
    body.addEventListener("click", open);
    body.addEventListener("keydown", function (e) { if (e.key === "Enter") { open(e); } });
  }

  bindFindings();
  bindIdentities();
  filterFindings();
  filterIdentities();
})();
