// Redline console: expiry countdowns and the approvals queue refreshing itself.
// The pages work without this file; it only keeps them current.
"use strict";

function left(seconds) {
  if (seconds <= 0) return "expired";
  const s = Math.floor(seconds);
  if (s < 120) return "in " + s + " s";
  if (s < 7200) return "in " + Math.floor(s / 60) + " min " + String(s % 60).padStart(2, "0") + " s";
  return "in " + Math.floor(s / 3600) + " h " + String(Math.floor((s % 3600) / 60)).padStart(2, "0") + " min";
}

function tick() {
  const now = Date.now() / 1000;
  for (const t of document.querySelectorAll("time.countdown")) {
    const until = parseFloat(t.dataset.until);
    t.textContent = left(until - now);
    t.classList.toggle("soon", until - now < 120);
  }
}

async function refreshQueue() {
  const body = document.getElementById("queue");
  if (!body) return;
  try {
    const r = await fetch(body.dataset.src, { credentials: "same-origin", headers: { "Accept": "text/html" } });
    if (r.redirected || !r.ok) {
      document.getElementById("refreshed").textContent = "refresh failed (" + r.status + "): reload the page";
      return;
    }
    body.innerHTML = await r.text();
    document.getElementById("refreshed").textContent = "refreshed " + new Date().toLocaleTimeString();
    tick();
  } catch (e) {
    document.getElementById("refreshed").textContent = "refresh failed: " + e.message;
  }
}

tick();
setInterval(tick, 1000);
if (document.getElementById("queue")) setInterval(refreshQueue, 5000);
