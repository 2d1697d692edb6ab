// The public HTTP API, as any client calls it: a token in the browser's storage, JSON in and
// out, the page's language in Accept-Language, errors shown with the messages the API wrote.

const TOKEN = "flexispace-token";
export const texts = JSON.parse(document.getElementById("texts").textContent);
export const language = document.body.dataset.language;
// Dates and times as written in Finland and Sweden, in English too (24-hour clock, day first).
const intlLocale = language === "en" ? "en-GB" : language;

export class ApiError extends Error {
  constructor(status, body) {
    super(describe(body) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// "field: message" for each message of an error answer (its codes are beside them, unshown).
function describe(body) {
  if (!body || typeof body !== "object") return "";
  if (body.detail) return body.detail;
  return Object.entries(body)
    .filter(([name]) => name !== "codes")
    .map(([name, messages]) => `${name}: ${[].concat(messages).join(" ")}`)
    .join("\n");
}

export const token = {
  get: () => localStorage.getItem(TOKEN),
  set: (value) => localStorage.setItem(TOKEN, value),
  clear: () => localStorage.removeItem(TOKEN),
};

export async function call(method, path, body) {
  const headers = { Accept: "application/json", "Accept-Language": language };
  if (token.get()) headers.Authorization = `Token ${token.get()}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1/${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new ApiError(response.status, answer);
  return answer;
}

// Every page of a paginated list.
export async function all(path) {
  let results = [];
  let page = 1;
  for (;;) {
    const separator = path.includes("?") ? "&" : "?";
    const answer = await call("GET", `${path}${separator}page=${page}`);
    results = results.concat(answer.results);
    if (!answer.next) return results;
    page += 1;
  }
}

export function show(message, kind = "error") {
  const box = document.getElementById("message");
  box.textContent = message;
  box.className = `message ${kind}`;
  box.hidden = !message;
}

// Runs an action of a button or a form, showing what went wrong in the message box.
export function guarded(action) {
  return async (event) => {
    event.preventDefault();
    show("");
    try {
      await action(event);
    } catch (error) {
      show(error.message);
    }
  };
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "onclick") node.addEventListener("click", value);
    else node.setAttribute(name, value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

// A time of the API (UTC) on a venue's clock, in the page's language.
export function wallClock(instant, zone, withDay = true) {
  const options = { timeZone: zone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
  if (withDay) Object.assign(options, { weekday: "short", day: "numeric", month: "numeric" });
  return new Intl.DateTimeFormat(intlLocale, options).format(new Date(instant));
}

export function span(start, end, zone) {
  return `${wallClock(start, zone)}–${wallClock(end, zone, false)}`;
}

// The instant at a wall-clock date and time ("2026-12-03", "17:00") in `zone`, as RFC 3339.
export function instantAt(date, time, zone) {
  const [year, month, day] = date.split("-").map(Number);
  const [hour, minute] = time.split(":").map(Number);
  const wanted = Date.UTC(year, month - 1, day, hour, minute);
  let guess = wanted;
  for (let i = 0; i < 2; i++) guess = wanted - offsetMs(guess, zone);
  return new Date(guess).toISOString();
}

function offsetMs(instant, zone) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat("en-GB", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit",
    }).formatToParts(new Date(instant)).map((part) => [part.type, part.value]),
  );
  const local = Date.UTC(parts.year, parts.month - 1, parts.day, parts.hour, parts.minute, parts.second);
  return local - instant;
}

// The date `days` after today on the city's clock, as YYYY-MM-DD.
export function localDate(zone, days = 0) {
  const moment = new Date(Date.now() + days * 86400000);
  return new Intl.DateTimeFormat("en-CA", { timeZone: zone }).format(moment);
}

export async function signedIn(onUser) {
  const bar = document.getElementById("account-bar");
  document.getElementById("log-out").addEventListener("click", () => {
    token.clear();
    location.reload();
  });
  if (!token.get()) return null;
  try {
    const user = await call("GET", "auth/me/");
    document.getElementById("signed-in-as").textContent = `${texts.signed_in_as} ${user.name || user.email}`;
    bar.hidden = false;
    await onUser(user);
    return user;
  } catch (error) {
    if (error.status === 401) token.clear();
    else show(error.message);
    return null;
  }
}
