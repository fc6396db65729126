// MQT Stream dashboard: no framework, no build step. State comes from /api/state once, then live
// from /events (server-sent events); frames are fetched from /api/frame when announced.
"use strict";

const HISTORY = 300; // overview samples kept, one a second
const history = [];
const cameras = new Map(); // id → { tile, img, list, answers: Map(question → answer) }
let tokenRequired = false;

const $ = (id) => document.getElementById(id);

function fmtMs(v) { return v == null ? "–" : v >= 10000 ? (v / 1000).toFixed(1) + " s" : Math.round(v) + " ms"; }
function fmt(v, digits = 0) { return v == null ? "–" : Number(v).toFixed(digits); }

function camera(id) {
  let c = cameras.get(id);
  if (c) return c;
  const tile = document.createElement("article");
  tile.className = "camera";
  tile.dataset.camera = id;
  tile.innerHTML = '<div class="head"><strong class="name"></strong><span class="m muted"></span></div>'
    + '<div class="frame"><img alt=""><ul class="answers"></ul></div>';
  tile.querySelector(".name").textContent = id;
  tile.querySelector("img").alt = "latest frame of " + id;
  c = { tile, img: tile.querySelector("img"), list: tile.querySelector(".answers"),
        m: tile.querySelector(".m"), answers: new Map(), seq: -1, loading: false };
  // keep the grid sorted by camera id
  const grid = $("grid");
  const after = [...grid.children].find((t) => t.dataset.camera.localeCompare(id, undefined, { numeric: true }) > 0);
  grid.insertBefore(tile, after || null);
  cameras.set(id, c);
  $("cameras-now").textContent = cameras.size;
  const option = document.createElement("option");
  option.value = id; option.textContent = id;
  $("question-camera").appendChild(option);
  return c;
}

function showFrame(id, seq) {
  const c = camera(id);
  if (seq <= c.seq || c.loading) return;
  c.seq = seq;
  c.loading = true;
  const img = new Image();
  img.onload = img.onerror = () => { c.loading = false; if (img.naturalWidth) c.img.src = img.src; };
  img.src = "/api/frame?camera=" + encodeURIComponent(id) + "&seq=" + seq;
}

function showAnswer(a) {
  const c = camera(a.camera);
  c.answers.set(a.question, a);
  // a question no longer asked (its answers stopped a few frames ago) leaves the tile
  for (const [q, x] of c.answers) if (x.seq < a.seq - 8) c.answers.delete(q);
  c.m.textContent = "m = " + a.m;
  c.list.replaceChildren(...[...c.answers.values()].map((x) => {
    const li = document.createElement("li");
    const mark = x.correct == null ? "" : x.correct ? "✓" : "✗";
    li.innerHTML = '<span class="mark"></span> <b class="a"></b> <span class="q"></span>';
    li.querySelector(".mark").textContent = mark;
    li.querySelector(".mark").className = "mark " + (x.correct == null ? "" : x.correct ? "ok" : "bad");
    li.querySelector(".q").textContent = x.question;
    li.querySelector(".a").textContent = x.answer;
    li.title = x.question + " → " + x.answer + (x.expected != null ? " (truth: " + x.expected + ")" : "")
      + " · m = " + x.m + " · " + fmtMs(x.latencyMs) + " · frame " + x.seq;
    return li;
  }));
}

function chart(svg, series) {
  const w = 300, h = 80;
  // the last minute at first, up to HISTORY seconds once there is that much
  const span = Math.min(HISTORY, Math.max(60, series[0].length));
  const all = series.flat().filter((v) => v != null);
  const max = Math.max(1, ...all);
  svg.replaceChildren();
  series.forEach((values, k) => {
    const n = values.length;
    // the newest sample at the right edge, one step per second
    const pts = values.map((v, i) => v == null ? null
      : (w * (span - n + i) / (span - 1)).toFixed(1) + "," + (h - 2 - (v / max) * (h - 12)).toFixed(1))
      .filter((p) => p != null).join(" ");
    const line = document.createElementNS("http://www.w3.org/2000/svg", "polyline");
    line.setAttribute("points", pts);
    if (k > 0) line.setAttribute("class", "second");
    svg.appendChild(line);
  });
  const label = document.createElementNS("http://www.w3.org/2000/svg", "text");
  label.setAttribute("x", 2); label.setAttribute("y", 9);
  label.textContent = "max " + Math.round(max);
  svg.appendChild(label);
}

function showOverview(o) {
  history.push(o);
  while (history.length > HISTORY) history.shift();
  $("m-now").textContent = o.m;
  $("latency-now").textContent = fmtMs(o.p50Ms) + " / " + fmtMs(o.p95Ms);
  $("lag-now").textContent = o.lag;
  $("rate-now").textContent = fmt(o.framesPerSecond, 1) + " · " + fmt(o.answersPerSecond, 1);
  $("dlq-now").textContent = o.deadLetters;
  $("util-now").textContent = Math.round(100 * (o.utilisation || 0)) + " %";
  chart($("chart-m"), [history.map((x) => x.m)]);
  chart($("chart-latency"), [history.map((x) => x.p50Ms), history.map((x) => x.p95Ms)]);
  chart($("chart-lag"), [history.map((x) => x.lag)]);
  chart($("chart-rate"), [history.map((x) => x.framesPerSecond), history.map((x) => x.answersPerSecond)]);
}

function showQuestions(q) {
  $("default-questions").textContent = q.defaults.map((x) => "“" + x + "”").join(", ") || "none";
  $("overrides").replaceChildren(...Object.entries(q.overrides).sort().map(([cam, list]) => {
    const li = document.createElement("li");
    li.dataset.camera = cam;
    li.textContent = cam + ": " + list.join(" · ");
    return li;
  }));
}

async function loadQuestions() {
  const r = await fetch("/api/questions");
  showQuestions(await r.json());
}

async function saveQuestions(event) {
  event.preventDefault();
  const status = $("question-status");
  const cam = $("question-camera").value;
  const questions = $("question-text").value.split("\n").map((x) => x.trim()).filter((x) => x);
  const headers = { "Content-Type": "application/json" };
  const token = $("question-token").value;
  if (token) { headers["Authorization"] = "Bearer " + token; localStorage.setItem("mqt.token", token); }
  status.className = ""; status.textContent = "saving…";
  const r = await fetch("/api/questions", { method: "PUT", headers, body: JSON.stringify({ camera: cam, questions }) });
  if (r.ok) {
    status.className = "ok"; status.textContent = "saved: " + cam + " → " + (questions.join(" · ") || "defaults");
    setTimeout(loadQuestions, 500);
  } else {
    const body = await r.json().catch(() => ({ error: r.statusText }));
    status.className = "bad";
    status.textContent = (r.status === 401 ? "refused (token needed): " : "failed: ") + body.error;
  }
}

async function start() {
  const state = await (await fetch("/api/state")).json();
  tokenRequired = state.tokenRequired;
  $("token-label").hidden = !tokenRequired;
  $("token-help").hidden = !tokenRequired;
  $("question-token").value = localStorage.getItem("mqt.token") || "";
  showQuestions(state.questions);
  for (const [id, c] of Object.entries(state.cameras)) {
    camera(id);
    Object.values(c.answers).forEach(showAnswer);
    if (c.hasFrame) showFrame(id, c.seq);
  }
  state.history.slice(0, -1).forEach((o) => history.push(o));
  if (state.history.length) showOverview(state.history[state.history.length - 1]);
  $("question-form").addEventListener("submit", saveQuestions);

  const events = new EventSource("/events");
  events.onopen = () => { $("connection").textContent = "live"; };
  events.onerror = () => { $("connection").textContent = "reconnecting…"; };
  events.onmessage = (msg) => {
    const e = JSON.parse(msg.data);
    if (e.type === "overview") showOverview(e);
    else if (e.type === "answer") showAnswer(e);
    else if (e.type === "frame") showFrame(e.camera, e.seq);
  };
}

start().catch((e) => { $("connection").textContent = "cannot load: " + e; });
