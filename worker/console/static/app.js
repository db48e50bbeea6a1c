// The console's entry point: sign-in, the page tabs, and which pages a key may see.

import { session, authHeaders } from "./api.js";
import { $, say } from "./dom.js";
import { loadModels, setUpPlayground } from "./playground.js";
import { setUpAdmin, showAdminPage, stopLive } from "./admin.js";

const PAGES = ["signin", "playground", "keys", "usage", "health", "live"];

function show(page) {
  for (const name of PAGES) $(`#page-${name}`).hidden = name !== page;
  for (const tab of document.querySelectorAll("#tabs [data-page]")) {
    if (tab.dataset.page === page) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (page !== "live") stopLive();
  if (!["signin", "playground"].includes(page)) showAdminPage(page);
}

// An admin key is one the admin-only live log accepts: 200 for admin, 403 for other keys.
async function isAdmin() {
  const probe = new AbortController();
  try {
    const response = await fetch("/admin/v1/requests/live", { headers: authHeaders(), signal: probe.signal });
    return response.ok;
  } catch {
    return false;
  } finally {
    probe.abort();
  }
}

async function signIn() {
  say("#signin-error", "");
  try {
    await loadModels();  // the first call with the key: it also tells whether the key is valid
  } catch (error) {
    session.key = "";
    say("#signin-error", error.status === 401 ? "That key is not valid." : error.message);
    $("#tabs").hidden = true;
    show("signin");
    return;
  }
  const admin = await isAdmin();
  for (const tab of document.querySelectorAll(".admin-only")) tab.hidden = !admin;
  document.body.classList.toggle("admin", admin);
  $("#tabs").hidden = false;
  show("playground");
}

function signOut() {
  session.key = "";
  stopLive();
  $("#tabs").hidden = true;
  document.body.classList.remove("admin");
  show("signin");
  $("#signin-key").focus();
}

function start() {
  setUpPlayground();
  setUpAdmin();
  $("#signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    session.key = $("#signin-key").value.trim();
    $("#signin-key").value = "";
    signIn().catch((error) => say("#signin-error", error.message));
  });
  $("#sign-out").addEventListener("click", signOut);
  for (const tab of document.querySelectorAll("#tabs [data-page]")) {
    tab.addEventListener("click", () => show(tab.dataset.page));
  }
  if (session.key) signIn().catch((error) => say("#signin-error", error.message));
  else show("signin");
}

start();
