// The web chat: sign in, pick or start a conversation, send, read replies.
// Everything is same-origin JSON; the CSRF token lives in memory only and
// comes back from GET /api/session after a reload.
"use strict";
const $ = (id) => document.getElementById(id);
let csrf = null;
let current = null;

async function api(method, path, body) {
  const headers = { "content-type": "application/json" };
  if (csrf && method !== "GET") headers["x-csrf-token"] = csrf;
  const r = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), credentials: "same-origin" });
  let data = {};
  try { data = await r.json(); } catch (_) { /* an empty body */ }
  if (!r.ok) throw new Error((data.error && data.error.message) || `HTTP ${r.status}`);
  return data;
}

function show(signedIn, user) {
  $("login-form").hidden = signedIn;
  $("chat").hidden = !signedIn;
  $("logout").hidden = !signedIn;
  $("who").textContent = signedIn ? user : "";
}

function bubble(role, text, extra) {
  const li = document.createElement("li");
  li.className = `msg ${role}` + (extra ? ` ${extra}` : "");
  li.textContent = text;
  $("messages").appendChild(li);
  $("messages").scrollTop = $("messages").scrollHeight;
  return li;
}

async function conversations() {
  const { conversations } = await api("GET", "/api/conversations");
  const ul = $("conversations");
  ul.replaceChildren();
  for (const c of conversations) {
    const a = document.createElement("a");
    a.href = `#${c.id}`;
    a.textContent = c.id;
    if (c.id === current) a.className = "current";
    const li = document.createElement("li");
    li.appendChild(a);
    ul.appendChild(li);
  }
  return conversations;
}

async function open(id) {
  current = id;
  $("messages").replaceChildren();
  const { messages } = await api("GET", `/api/conversations/${id}/messages`);
  for (const m of messages) {
    if (m.role === "assistant" && !m.text && m.tools.length) continue;
    const li = bubble(m.role, m.text);
    if (m.tools.length) {
      const t = document.createElement("span");
      t.className = "tools";
      t.textContent = `used: ${m.tools.join(", ")}`;
      li.appendChild(t);
    }
  }
  await conversations();
}

async function start() {
  try {
    const s = await api("GET", "/api/session");
    csrf = s.csrf;
    show(true, s.user);
    const list = await conversations();
    const wanted = location.hash.slice(1);
    const id = wanted || (list[0] && list[0].id) || newId();
    await open(id);
  } catch (_) {
    show(false);
  }
}

function newId() {
  return `c-${Date.now().toString(36)}`;
}

$("login-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("login-error").textContent = "";
  try {
    await api("POST", "/login", { name: $("name").value, password: $("password").value });
    $("password").value = "";
    await start();
  } catch (err) {
    $("login-error").textContent = err.message;
  }
});

$("composer").addEventListener("submit", async (e) => {
  e.preventDefault();
  const text = $("text").value.trim();
  if (!text) return;
  $("text").value = "";
  $("send").disabled = true;
  bubble("user", text);
  const pending = bubble("assistant", "thinking…", "pending");
  try {
    const r = await api("POST", `/api/conversations/${current}/messages`, { text });
    pending.className = r.notice ? "msg assistant error" : "msg assistant";
    pending.textContent = r.reply;
    location.hash = current;
    await conversations();
  } catch (err) {
    pending.className = "msg assistant error";
    pending.textContent = `error: ${err.message}`;
  } finally {
    $("send").disabled = false;
  }
});

$("new").addEventListener("click", () => { location.hash = newId(); });
window.addEventListener("hashchange", () => { const id = location.hash.slice(1); if (id && id !== current) open(id); });
$("logout").addEventListener("click", async () => {
  try { await api("POST", "/logout"); } finally { csrf = null; current = null; show(false); }
});

start();
