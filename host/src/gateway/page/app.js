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
  scroll();
  return li;
}

function scroll() {
  $("messages").scrollTop = $("messages").scrollHeight;
}

function shown(m) {
  if (m.role === "assistant" && !m.text && m.tools.length) return;
  const li = bubble(m.role, m.text);
  if (m.tools.length) {
    const t = document.createElement("span");
    t.className = "tools";
    t.textContent = `used: ${m.tools.join(", ")}`;
    li.appendChild(t);
  }
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

// The reply being written: its bubble, the text so far, the tool calls.
// Events come from the conversation's event stream; the browser's
// EventSource reconnects by itself and says the last event id it saw, so
// the server sends what was missed. When that is gone ("reset"), only the
// messages after the last one known are fetched, not the whole history.
let source = null;
let draft = null;
let synced = 0;

function newDraft(li) {
  li = li || bubble("assistant", "thinking…", "pending");
  li.replaceChildren();
  const calls = document.createElement("ul");
  calls.className = "calls";
  const text = document.createElement("span");
  text.className = "text";
  text.textContent = "thinking…";
  li.append(calls, text);
  return { li, calls, text, written: "" };
}

function finish(d, text, failed) {
  d.li.classList.remove("pending", "streaming");
  d.li.classList.toggle("error", !!failed);
  d.text.textContent = text;
  if (!d.calls.children.length) d.calls.remove();
  scroll();
}

const on = {
  started() { if (!draft) draft = newDraft(); },
  round() { if (draft && draft.written) { draft.written += "\n\n"; draft.text.textContent = draft.written; } },
  text(e) {
    if (!draft) draft = newDraft();
    draft.li.classList.replace("pending", "streaming");
    draft.written += e.delta;
    draft.text.textContent = draft.written;
    scroll();
  },
  tool_started(e) {
    if (!draft) draft = newDraft();
    const li = document.createElement("li");
    li.className = "call running";
    li.dataset.id = e.id;
    li.textContent = `${e.name} ${e.arguments}`;
    draft.calls.appendChild(li);
    scroll();
  },
  tool_finished(e) {
    if (!draft) return;
    for (const li of draft.calls.children) {
      if (li.dataset.id === e.id) li.className = e.ok ? "call done" : "call failed";
    }
  },
  done(e) { if (draft) { finish(draft, e.text, false); draft = null; } sync(false); },
  failed(e) { if (draft) { finish(draft, `error: ${e.error}`, true); draft = null; } sync(false); },
};

function listen(id) {
  if (source) source.close();
  source = new EventSource(`/api/conversations/${id}/events`);
  source.onmessage = (m) => {
    const e = JSON.parse(m.data);
    if (on[e.type]) on[e.type](e);
  };
  source.addEventListener("reset", () => sync(true));
}

// Learn the numbers of the messages shown so far; after a gap, replace
// what was shown since the last known message with what was stored.
async function sync(gap) {
  const id = current;
  const { messages } = await api("GET", `/api/conversations/${id}/messages?after=${synced}`);
  if (id !== current) return;
  if (gap) {
    for (const li of [...document.querySelectorAll("#messages .unsynced")]) li.remove();
    draft = null;
    for (const m of messages) shown(m);
  }
  for (const li of document.querySelectorAll("#messages .unsynced")) li.classList.remove("unsynced");
  for (const m of messages) synced = Math.max(synced, m.seq);
}

async function open(id) {
  current = id;
  synced = 0;
  draft = null;
  $("messages").replaceChildren();
  const { messages } = await api("GET", `/api/conversations/${id}/messages`);
  for (const m of messages) {
    shown(m);
    synced = Math.max(synced, m.seq);
  }
  listen(id);
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
  bubble("user", text, "unsynced");
  const mine = newDraft(bubble("assistant", "", "pending unsynced"));
  draft = mine;
  try {
    const r = await api("POST", `/api/conversations/${current}/messages`, { text });
    // The stored reply is the last word (a turn run by another process
    // streams nothing here).
    finish(mine, r.reply, r.notice);
    if (draft === mine) draft = null;
    location.hash = current;
    await conversations();
  } catch (err) {
    finish(mine, `error: ${err.message}`, true);
    if (draft === mine) draft = null;
  } finally {
    $("send").disabled = false;
  }
});

$("new").addEventListener("click", () => { location.hash = newId(); });
window.addEventListener("hashchange", () => { const id = location.hash.slice(1); if (id && id !== current) open(id); });
$("logout").addEventListener("click", async () => {
  if (source) { source.close(); source = null; }
  try { await api("POST", "/logout"); } finally { csrf = null; current = null; show(false); }
});

start();
