// The operator's page: the alerts, each lock's state with one-click unlock_once, and today's
// and tomorrow's bookings per venue with their codes' state and check-in.
import {
  all, call, element, guarded, instantAt, localDate, show, signedIn, span, texts, token,
} from "./api.js";

const zone = document.body.dataset.zone;
const $ = (id) => document.getElementById(id);

function state(good, yes, no) {
  return element("span", { class: good ? "state-good" : "state-bad" }, good ? yes : no);
}

async function load() {
  const from = instantAt(localDate(zone, 0), "00:00", zone);
  const to = instantAt(localDate(zone, 2), "00:00", zone);
  const [alerts, locks, spaces, bookings] = await Promise.all([
    all("alerts/"),
    all("locks/"),
    all("spaces/"),
    all(`bookings/?status=confirmed&from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}`),
  ]);
  const spaceNames = new Map(spaces.map((space) => [space.id, `${space.name}, ${space.venue_name}`]));
  const lockOf = new Map(locks.map((lock) => [lock.space, lock]));

  $("alerts").replaceChildren(
    ...(alerts.length
      ? alerts.map((alert) => element("li", {}, `${alert.kind}: ${alert.detail}`))
      : [element("li", {}, texts.no_alerts)]),
  );

  $("locks").replaceChildren(
    ...locks.map((lock) =>
      element(
        "tr",
        { "data-lock": lock.id },
        element("td", {}, lock.id),
        element("td", {}, spaceNames.get(lock.space) || String(lock.space)),
        element(
          "td",
          {},
          state(lock.online, texts.online, texts.offline),
          ", ",
          state(lock.in_sync, texts.in_sync, texts.not_in_sync),
        ),
        element(
          "td",
          {},
          element(
            "button",
            {
              type: "button",
              "aria-label": `${texts.unlock} ${lock.id}`,
              onclick: guarded(async () => {
                await call("POST", `locks/${encodeURIComponent(lock.id)}/unlock/`);
                show(texts.unlock_sent, "notice");
              }),
            },
            texts.unlock,
          ),
        ),
      ),
    ),
  );

  const venues = new Map();
  for (const booking of bookings) {
    if (!venues.has(booking.venue_name)) venues.set(booking.venue_name, []);
    venues.get(booking.venue_name).push(booking);
  }
  $("venues").replaceChildren(
    ...(venues.size ? [] : [element("p", {}, texts.no_bookings)]),
    ...[...venues].map(([venue, rows]) =>
      element(
        "section",
        { class: "card" },
        element("h3", {}, venue),
        element(
          "ul",
          {},
          ...rows.map((booking) => {
            const lock = lockOf.get(booking.space);
            const facts = [
              lock ? null : texts.no_lock,
              booking.access ? `${texts.door_code}: ${texts[`access_${booking.access.state}`]}` : null,
              booking.checked_in_at ? texts.checked_in : texts.not_checked_in,
            ].filter(Boolean);
            return element(
              "li",
              {},
              element("strong", {}, span(booking.start, booking.end, booking.timezone)),
              ` ${booking.space_name} · ${facts.join(" · ")}`,
            );
          }),
        ),
      ),
    ),
  );
  $("board").hidden = false;
}

async function start() {
  $("refresh").addEventListener("click", guarded(load));
  $("login-form").addEventListener(
    "submit",
    guarded(async (event) => {
      const answer = await call("POST", "auth/token/", Object.fromEntries(new FormData(event.target)));
      token.set(answer.token);
      location.reload();
    }),
  );
  const user = await signedIn(async (me) => {
    $("login-form").hidden = true;
    if (!me.is_operator) throw new Error(texts.not_operator);
    await load();
  });
  document.body.dataset.ready = user ? "signed-in" : "anonymous";
}

start().catch((error) => show(error.message));
