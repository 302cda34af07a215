// The admin page's script: live updates by server-sent events, and the
// graph's plugin details. No build step; no dependencies.
"use strict";
(function () {
  const live = document.getElementById("live");
  const conn = document.getElementById("conn");
  let busy = false;
  async function refresh() {
    if (busy || !live) return;
    busy = true;
    try {
      const res = await fetch(location.href, { headers: { "X-Fragment": "live" }, credentials: "same-origin" });
      const hash = res.headers.get("X-Live-Hash");
      if (res.ok && hash !== live.dataset.hash) { // unchanged: leave the DOM alone
        live.innerHTML = await res.text();
        live.dataset.hash = hash;
        document.body.dataset.refreshed = String(Date.now());
      }
    } finally {
      busy = false;
    }
  }
  if (window.EventSource) {
    const es = new EventSource("/events");
    es.addEventListener("tick", refresh);
    es.onopen = () => conn && conn.classList.add("on");
    es.onerror = () => conn && conn.classList.remove("on");
  }

  // The graph: a click on a plugin shows its details beside the picture.
  const detail = document.getElementById("detail");
  document.addEventListener("click", async (ev) => {
    const box = ev.target.closest && ev.target.closest("#graph [data-plugin]");
    if (!box || !detail) return;
    const name = box.dataset.plugin;
    const res = await fetch("/api/plugins/" + encodeURIComponent(name), { credentials: "same-origin" });
    const d = await res.json();
    detail.replaceChildren();
    const h = document.createElement("h2");
    const link = document.createElement("a");
    link.href = "/plugins/" + encodeURIComponent(name);
    link.textContent = name + "@" + (d.version || "");
    h.append(link);
    detail.append(h);
    const rows = [
      ["state", d.state + (d.health ? ": " + d.health : "")],
      ["band, priority", d.band + " " + d.priority],
      ["policy", d.policy + (d.lazy ? ", lazy" : "")],
      ["requires", (d.requires || []).join(", ") || "nothing"],
      ["why it starts there", d.lifecycle || ""],
      ["why its layer sits there", d.chain || "it has no layer"],
    ];
    const dl = document.createElement("dl");
    for (const [k, v] of rows) {
      const dt = document.createElement("dt");
      dt.textContent = k;
      const dd = document.createElement("dd");
      dd.textContent = v;
      dl.append(dt, dd);
    }
    detail.append(dl);
    const pre = document.createElement("pre");
    pre.id = "detail-options";
    pre.textContent = "options (secrets redacted):\n" + JSON.stringify(d.options ?? null, null, 2);
    detail.append(pre);
    detail.hidden = false;
  });
})();
