// The citizen's page: search by activity, book a slot or any suitable space, watch the request
// being decided, see the booking's door code, its calendar file and cancel it.
import {
  all, call, element, guarded, instantAt, language, localDate, show, signedIn, span, texts,
  token,
} from "./api.js";

const zone = document.body.dataset.zone;
const spaces = new Map(); // id → the space, as GET /spaces/{id}/ answers
let criteria = null; // the last search's, for "any suitable space"
let user = null;

const $ = (id) => document.getElementById(id);

async function space(id) {
  if (!spaces.has(id)) spaces.set(id, await call("GET", `spaces/${id}/`));
  return spaces.get(id);
}

async function loadActivities() {
  const activities = await call("GET", "activities/");
  const select = $("activity");
  for (const activity of activities) {
    const name = activity.name[language] || activity.name.en;
    select.append(element("option", { value: activity.slug }, name));
  }
}

function position() {
  return new Promise((resolve, reject) =>
    navigator.geolocation.getCurrentPosition(
      (where) => resolve(`${where.coords.latitude.toFixed(5)},${where.coords.longitude.toFixed(5)}`),
      () => reject(new Error(texts.no_location)),
    ),
  );
}

async function search() {
  const form = new FormData($("search-form"));
  const lastDay = form.get("last_day") || form.get("day");
  criteria = {
    activity: form.get("activity"),
    party_size: Number(form.get("party_size")),
    duration_minutes: Number(form.get("duration_minutes")),
    from: instantAt(form.get("day"), form.get("from_time"), zone),
    to: instantAt(lastDay, form.get("to_time"), zone),
  };
  if (form.get("district")) criteria.district = form.get("district");
  if (form.get("near_me")) criteria.near = await position();
  const offers = (await call("GET", `slots/?${new URLSearchParams(criteria)}`)).results;
  const list = $("offers");
  list.replaceChildren();
  for (const offer of offers.slice(0, 20)) list.append(await offerItem(offer));
  $("results-summary").textContent = offers.length ? texts.best_first : texts.nothing_free;
  $("book-any").hidden = !offers.length;
  $("results").hidden = false;
}

async function offerItem(offer) {
  const room = await space(offer.space);
  const facts = [`${room.venue_name}, ${room.district}`, `${texts.up_to} ${room.capacity}`];
  if (room.equipment.length) facts.push(room.equipment.join(", "));
  if (offer.distance_km !== null) facts.push(`${offer.distance_km.toFixed(1)} km`);
  if (room.has_lock) facts.push(texts.door_code_lock);
  const when = span(offer.start, offer.end, room.timezone);
  return element(
    "li",
    { class: "offer" },
    element("p", { class: "when" }, when),
    element("p", { class: "what" }, element("strong", {}, room.name), ` — ${facts.join(" · ")}`),
    element(
      "button",
      { type: "button", "aria-label": `${texts.book} ${room.name} ${when}`, onclick: guarded(() => book(offer)) },
      texts.book,
    ),
  );
}

function needAccount() {
  if (token.get()) return false;
  show(texts.log_in_first);
  $("account").scrollIntoView();
  $("register-name").focus();
  return true;
}

async function book(offer) {
  if (needAccount()) return;
  const body = { space: offer.space, start: offer.start, end: offer.end };
  await follow(await call("POST", "booking-requests/", { ...body, ...requestCriteria() }));
}

async function bookAny() {
  if (needAccount()) return;
  const body = {
    window_start: criteria.from,
    window_end: criteria.to,
    duration_minutes: criteria.duration_minutes,
    ...requestCriteria(),
  };
  if (criteria.district) body.district = criteria.district;
  if (criteria.near) body.near = criteria.near;
  await follow(await call("POST", "booking-requests/", body));
}

function requestCriteria() {
  return { activity: criteria.activity, party_size: criteria.party_size };
}

// Polls the request until a worker has decided it, then shows the booking.
async function follow(request) {
  const status = $("request-status");
  $("request").hidden = false;
  status.replaceChildren(element("p", {}, texts.deciding));
  $("request").scrollIntoView();
  while (request.status === "pending") {
    await new Promise((resolve) => setTimeout(resolve, 500));
    request = await call("GET", `booking-requests/${request.id}/`);
  }
  if (request.status === "rejected") {
    status.replaceChildren(element("p", {}, `${texts.rejected} (${request.reason})`));
    return;
  }
  const booking = await call("GET", `bookings/${request.booking}/`);
  status.replaceChildren(...bookingCard(booking, true));
  await listBookings();
}

function bookingCard(booking, headline = false) {
  const parts = [];
  if (headline) parts.push(element("p", { class: "confirmed" }, texts.confirmed));
  parts.push(
    element("p", { class: "when" }, span(booking.start, booking.end, booking.timezone)),
    element("p", {}, element("strong", {}, booking.space_name), ` — ${booking.venue_name}`),
  );
  if (booking.status !== "confirmed") {
    parts.push(element("p", { class: "status" }, texts[`status_${booking.status}`] || booking.status));
    return parts;
  }
  if (booking.access) {
    parts.push(
      element(
        "p",
        { class: "code" },
        `${texts.door_code}: `,
        element("strong", { "data-code": booking.access.code }, booking.access.code),
        ` (${texts[`access_${booking.access.state}`] || booking.access.state})`,
      ),
    );
  }
  parts.push(
    element(
      "p",
      { class: "actions" },
      element("button", { type: "button", onclick: guarded(() => calendar(booking)) }, texts.add_to_calendar),
      " ",
      element(
        "button",
        { type: "button", class: "danger", onclick: guarded(() => cancel(booking)) },
        texts.cancel,
      ),
    ),
  );
  return parts;
}

async function calendar(booking) {
  const response = await fetch(`/api/v1/bookings/${booking.id}/calendar.ics`, {
    headers: { Authorization: `Token ${token.get()}`, "Accept-Language": language },
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const link = element("a", {
    href: URL.createObjectURL(await response.blob()),
    download: `flexispace-${booking.id}.ics`,
  });
  link.click();
}

async function cancel(booking) {
  if (!confirm(texts.cancel_confirm)) return;
  await call("POST", `bookings/${booking.id}/cancel/`);
  show(texts.cancelled, "notice");
  $("request").hidden = true;
  await listBookings();
}

async function listBookings() {
  const from = new Date().toISOString();
  const bookings = await all(`bookings/?status=confirmed&from=${encodeURIComponent(from)}`);
  const list = $("booking-list");
  list.replaceChildren(
    ...bookings.map((booking) =>
      element("li", { class: "card", id: `booking-${booking.id}` }, ...bookingCard(booking)),
    ),
  );
  if (!bookings.length) list.append(element("li", {}, texts.no_bookings));
  $("bookings").hidden = false;
  // A mail's or a calendar's link to one booking: /#booking-ID.
  if (location.hash.startsWith("#booking-")) document.getElementById(location.hash.slice(1))?.scrollIntoView();
}

async function enter(answer) {
  token.set(answer.token);
  location.reload();
}

async function register(event) {
  const form = new FormData(event.target);
  const body = Object.fromEntries(form);
  await enter(await call("POST", "auth/register/", { ...body, language }));
}

async function logIn(event) {
  await enter(await call("POST", "auth/token/", Object.fromEntries(new FormData(event.target))));
}

async function start() {
  $("day").value = $("day").value || localDate(zone, 1);
  $("search-form").addEventListener("submit", guarded(search));
  $("book-any").addEventListener("click", guarded(bookAny));
  $("register-form").addEventListener("submit", guarded(register));
  $("login-form").addEventListener("submit", guarded(logIn));
  try {
    await loadActivities();
    user = await signedIn(async () => {
      $("account").hidden = true;
      await listBookings();
    });
  } catch (error) {
    show(error.message);
  }
  document.body.dataset.ready = user ? "signed-in" : "anonymous";
}

start();
