// The Lambda Rollouts console: each page polls the console's JSON and redraws in place.
// Every text from the control plane goes in through textContent, never as markup.
"use strict";

const body = document.body;
const pollMs = Number(body.dataset.pollMs || 1000);
const token = document.querySelector('meta[name="rollouts-token"]').content;

function el(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = String(text);
  if (className) node.className = className;
  return node;
}

function timeOf(iso) {
  if (!iso) return "";
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return String(iso);
  return moment.toISOString().replace("T", " ").slice(0, 19);
}

function clockOf(ms) {
  return new Date(ms).toISOString().slice(11, 19);
}

function human(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m} min ${s % 60} s` : `${m} min`;
  const h = Math.floor(m / 60);
  return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
}

function statusClass(status, outcome) {
  if (status === "RUNNING") return "running";
  if (status === "SUCCEEDED") return "succeeded";
  if (outcome === "ROLLED_BACK" || status === "FAILED") return "failed";
  return "other";
}

function heard(ok, text) {
  const live = document.getElementById("live-state");
  live.textContent = ok ? `live · ${new Date().toISOString().slice(11, 19)} UTC` : text;
  live.className = ok ? "live ok" : "live lost";
}

// The JSON answer, or an Error saying what the console answered instead.
async function answerOf(answer) {
  const text = await answer.text();
  let document_ = null;
  try {
    document_ = JSON.parse(text);
  } catch {
    throw new Error(`${answer.status} ${text.slice(0, 200)}`);
  }
  if (!answer.ok) throw new Error(`${document_.error || answer.status}: ${document_.message}`);
  return document_;
}

async function getJson(path) {
  return answerOf(await fetch(path, { headers: { Accept: "application/json" } }));
}

// Poll ``step`` every pollMs, one request at a time; a failure shows and polling goes on.
function everyPoll(step) {
  const run = async () => {
    try {
      await step();
      heard(true);
    } catch (error) {
      heard(false, `not reachable: ${error.message}`);
    }
    setTimeout(run, pollMs);
  };
  run();
}

// ---- the list page --------------------------------------------------------------------

function listPage() {
  const functionBox = document.getElementById("filter-function");
  const aliasBox = document.getElementById("filter-alias");
  const rows = document.querySelector("#rollouts tbody");
  const refresh = async () => {
    const query = new URLSearchParams();
    if (functionBox.value.trim()) query.set("function", functionBox.value.trim());
    if (aliasBox.value.trim()) query.set("alias", aliasBox.value.trim());
    const shown = query.toString();
    history.replaceState(null, "", shown ? `?${shown}` : location.pathname);
    const answer = await getJson(`/api/rollouts${shown ? `?${shown}` : ""}`);
    rows.replaceChildren(...answer.rollouts.map(listRow));
    document.getElementById("empty").hidden = answer.rollouts.length > 0;
    const both = query.has("function") && query.has("alias");
    document.getElementById("count").textContent =
      `${answer.rollouts.length} rollout${answer.rollouts.length === 1 ? "" : "s"}` +
      (both ? ` (the newest ${answer.newest} of the alias)` : ` (of the newest ${answer.newest})`);
  };
  functionBox.addEventListener("input", () => refresh().catch(() => {}));
  aliasBox.addEventListener("input", () => refresh().catch(() => {}));
  everyPoll(refresh);
}

function listRow(rollout) {
  const tr = el("tr");
  tr.dataset.rolloutId = rollout.rolloutId;
  tr.dataset.status = rollout.status;
  const badge = el("td");
  badge.append(el("span", rollout.status, `badge ${statusClass(rollout.status, rollout.outcome)}`));
  const subject = el("td");
  const link = el("a", `${rollout.functionName || "?"}:${rollout.alias || "?"}`);
  link.href = `/rollouts/${encodeURIComponent(rollout.rolloutId)}`;
  subject.append(link, el("div", rollout.rolloutId, "muted small"));
  let ending = rollout.reason || "";
  if (rollout.status === "RUNNING") {
    ending = rollout.step
      ? `step ${rollout.step} of ${rollout.stepCount} at ${rollout.weight}% on the target`
      : "before traffic moves";
  }
  tr.append(
    badge,
    subject,
    el("td", `${rollout.fromVersion || "none"} → ${rollout.toVersion || "?"}`),
    el("td", rollout.strategy || ""),
    el("td", timeOf(rollout.startedAt)),
    el("td", rollout.status === "RUNNING" ? "running" : human(rollout.durationSeconds)),
    el("td", ending, "ending"),
  );
  return tr;
}

// ---- a rollout's page -----------------------------------------------------------------

const GRAPH_STYLE = [
  {
    selector: "node",
    style: {
      label: "data(id)",
      "font-size": 11,
      "text-valign": "center",
      "text-halign": "center",
      "text-wrap": "wrap",
      "text-max-width": 120,
      width: 130,
      height: 28,
      shape: "round-rectangle",
      "background-color": "#f4f5f7",
      "border-width": 1,
      "border-color": "#9aa5b1",
      color: "#3e4c59",
    },
  },
  { selector: 'node[type = "Choice"]', style: { shape: "diamond", width: 140, height: 40 } },
  { selector: 'node[type = "Pass"]', style: { shape: "rectangle" } },
  {
    selector: 'node[type = "Succeed"], node[type = "Fail"], node[type = "End"]',
    style: { shape: "ellipse", width: 110 },
  },
  {
    selector: "edge",
    style: {
      width: 1,
      "curve-style": "bezier",
      "target-arrow-shape": "triangle",
      "arrow-scale": 0.7,
      "line-color": "#bcccdc",
      "target-arrow-color": "#bcccdc",
    },
  },
  { selector: 'edge[kind = "catch"]', style: { "line-style": "dashed" } },
  {
    selector: "node.visited",
    style: { "background-color": "#d9ecff", "border-color": "#2680c2", color: "#0b3a60" },
  },
  { selector: "edge.taken", style: { "line-color": "#2680c2", "target-arrow-color": "#2680c2" } },
  {
    selector: "node.current",
    style: { "background-color": "#ffe8b3", "border-color": "#de911d", "border-width": 3 },
  },
  {
    selector: "node.failed",
    style: { "background-color": "#ffd6d6", "border-color": "#cf1124", "border-width": 3 },
  },
];

function drawGraph(graph) {
  const elements = [
    ...graph.nodes.map((node) => ({ data: { id: node.id, type: node.type } })),
    ...graph.edges.map((edge) => ({
      data: { id: edge.id, source: edge.source, target: edge.target, kind: edge.kind },
    })),
  ];
  const cy = cytoscape({
    container: document.getElementById("graph"),
    elements,
    style: GRAPH_STYLE,
    layout: { name: "dagre", rankDir: "TB", nodeSep: 18, rankSep: 28 },
    userZoomingEnabled: true,
    boxSelectionEnabled: false,
    autoungrabify: true,
  });
  window.rolloutsGraph = cy; // for people poking at the page, and for the browser tests
  return cy;
}

function lightGraph(cy, visits) {
  const visited = new Set(visits.visited);
  cy.batch(() => {
    cy.nodes().forEach((node) => {
      node.toggleClass("visited", visited.has(node.id()));
      node.toggleClass("current", node.id() === visits.current);
      node.toggleClass("failed", node.id() === visits.failed);
    });
    const taken = new Set(visits.transitions.map(([from, to]) => `${from}\n${to}`));
    cy.edges().forEach((edge) => {
      edge.toggleClass("taken", taken.has(`${edge.source().id()}\n${edge.target().id()}`));
    });
  });
  const where = document.getElementById("current-state");
  where.textContent = visits.current
    ? `now in ${visits.current}`
    : visits.failed
      ? `failed in ${visits.failed}`
      : visits.visited.length
        ? `ended after ${visits.visited[visits.visited.length - 1]}`
        : "";
  const graph = document.getElementById("graph");
  graph.dataset.current = visits.current || "";
  graph.dataset.failed = visits.failed || "";
  graph.dataset.visited = visits.visited.join(" ");
}

function chartData(picture, running) {
  const weights = picture.weights.map((point) => ({ x: Date.parse(point.at), y: point.weight }));
  if (running && weights.length) {
    // The line goes on at the current weight up to the latest moment shown.
    const last = Math.max(...picture.marks.map((mark) => Date.parse(mark.at)), weights.at(-1).x);
    weights.push({ x: last, y: weights.at(-1).y });
  }
  const kinds = new Map();
  for (const mark of picture.marks) {
    if (!kinds.has(mark.kind)) kinds.set(mark.kind, { colour: mark.colour, points: [] });
    kinds.get(mark.kind).points.push({ x: Date.parse(mark.at), y: mark.weight, label: mark.label });
  }
  return [
    {
      type: "line",
      label: "% on the target",
      data: weights,
      stepped: "before",
      borderColor: "#1f77b4",
      backgroundColor: "rgba(31, 119, 180, 0.08)",
      fill: true,
      pointRadius: 0,
      borderWidth: 2,
    },
    ...[...kinds].map(([kind, found]) => ({
      type: "scatter",
      label: kind,
      data: found.points,
      backgroundColor: found.colour,
      borderColor: found.colour,
      pointRadius: kind === "check" ? 3 : 6,
      pointStyle: kind === "check" ? "circle" : "rectRot",
    })),
  ];
}

function drawChart(picture, running) {
  return new Chart(document.getElementById("chart"), {
    data: { datasets: chartData(picture, running) },
    options: {
      animation: false,
      maintainAspectRatio: false,
      parsing: false,
      scales: {
        x: { type: "linear", ticks: { callback: (value) => clockOf(value), maxTicksLimit: 8 } },
        y: { min: 0, max: 105, ticks: { callback: (value) => `${value}%` } },
      },
      plugins: {
        title: { display: true, text: picture.title },
        tooltip: {
          callbacks: {
            label: (item) => item.raw.label || `${item.raw.y}% on the target`,
            title: (items) => (items.length ? `${clockOf(items[0].raw.x)} UTC` : ""),
          },
        },
      },
    },
  });
}

function showMarks(picture) {
  const list = document.getElementById("marks");
  list.replaceChildren(
    ...picture.marks
      .filter((mark) => mark.kind !== "check")
      .map((mark) => {
        const item = el("li");
        item.dataset.kind = mark.kind;
        const dot = el("span", "", "dot");
        dot.style.backgroundColor = mark.colour;
        item.append(dot, el("span", `${timeOf(mark.at).slice(11)} `, "muted"), el("span", mark.label));
        return item;
      }),
  );
}

function showSummary(answer) {
  const rollout = answer.rollout;
  const status = document.getElementById("status");
  status.textContent = rollout.status;
  status.className = `badge ${statusClass(rollout.status, rollout.outcome)}`;
  body.dataset.status = rollout.status;
  const summary = document.getElementById("summary");
  summary.replaceChildren(
    ...answer.summary.flatMap(([key, value]) => [el("dt", key), el("dd", value)]),
  );
  const cause = document.getElementById("cause");
  cause.hidden = !answer.cause;
  cause.textContent = answer.cause || "";
  cause.className = `cause ${statusClass(rollout.status, rollout.outcome)}`;
  const checks = document.querySelector("#checks tbody");
  checks.replaceChildren(
    ...answer.checks.map((check) => {
      const tr = el("tr");
      if (check.firing || check.outcome === "fail") tr.className = "bad";
      const result = check.reason ? `${check.action}: ${check.reason}` : check.action;
      tr.append(
        el("td", timeOf(check.at).slice(11)),
        el("td", check.step),
        el("td", result),
        el("td", check.alarms),
        el("td", check.analysis || ""),
      );
      return tr;
    }),
  );
  const count = rollout.checkCount || answer.checks.length;
  document.getElementById("check-count").textContent =
    count > answer.checks.length ? `(the latest ${answer.checks.length} of ${count})` : `(${count})`;
  for (const button of document.querySelectorAll("#actions button[data-verb]")) {
    button.disabled = rollout.status !== "RUNNING";
  }
}

const VERB_WORDS = {
  pause: ["Pause", "Traffic stays where it is and health is still checked, until resumed."],
  resume: ["Resume", "Its bake goes on where it was paused."],
  promote: ["Promote", "Its bake or pause ends now and it takes the next step, health allowing."],
  "promote-full": ["Promote to 100%", "It goes to 100% on the target now, skipping the steps left, health allowing."],
  abort: ["Abort", "It rolls back to the baseline within seconds."],
};

function actions(rolloutId) {
  const dialog = document.getElementById("ask");
  if (!dialog) return;
  const reason = document.getElementById("ask-reason");
  const confirm = document.getElementById("ask-confirm");
  const answerBox = document.getElementById("answer");
  let asked = null;
  reason.addEventListener("input", () => {
    confirm.disabled = !reason.value.trim();
  });
  document.getElementById("ask-cancel").addEventListener("click", () => dialog.close());
  for (const button of document.querySelectorAll("#actions button[data-verb]")) {
    button.addEventListener("click", () => {
      const full = button.dataset.full === "true";
      asked = { verb: button.dataset.verb, full };
      const [title, what] = VERB_WORDS[full ? "promote-full" : asked.verb];
      document.getElementById("ask-title").textContent = `${title} ${rolloutId}?`;
      document.getElementById("ask-what").textContent = what;
      confirm.textContent = title;
      reason.value = "";
      confirm.disabled = true;
      dialog.showModal();
      reason.focus();
    });
  }
  document.getElementById("ask-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!asked || !reason.value.trim()) return;
    dialog.close();
    answerBox.textContent = `asking to ${asked.verb}...`;
    answerBox.className = "answer";
    try {
      const answer = await fetch(
        `/api/rollouts/${encodeURIComponent(rolloutId)}/${asked.verb}`,
        {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-Rollouts-Token": token },
          body: JSON.stringify(
            asked.verb === "promote"
              ? { reason: reason.value.trim(), full: asked.full }
              : { reason: reason.value.trim() },
          ),
        },
      );
      const document_ = await answerOf(answer);
      answerBox.textContent = `${asked.verb}${asked.full ? " to 100%" : ""} requested by ${document_.by} at ${document_.at}`;
      answerBox.className = "answer ok";
    } catch (error) {
      answerBox.textContent = `refused: ${error.message}`;
      answerBox.className = "answer bad";
    }
  });
}

function rolloutPage() {
  const rolloutId = body.dataset.rolloutId;
  actions(rolloutId);
  let cy = null;
  let chart = null;
  let shown = "";
  everyPoll(async () => {
    // Drawn once; a failed read is tried again at the next poll.
    if (cy === null) {
      cy = drawGraph(await getJson(`/api/rollouts/${encodeURIComponent(rolloutId)}/graph`));
    }
    const answer = await getJson(`/api/rollouts/${encodeURIComponent(rolloutId)}`);
    const running = answer.rollout.status === "RUNNING";
    showSummary(answer);
    lightGraph(cy, answer.visits);
    const picture = JSON.stringify(answer.picture);
    if (picture !== shown) {
      shown = picture;
      if (chart === null) chart = drawChart(answer.picture, running);
      else {
        chart.data.datasets = chartData(answer.picture, running);
        chart.options.plugins.title.text = answer.picture.title;
        chart.update("none");
      }
      showMarks(answer.picture);
      document.getElementById("chart").dataset.marks = answer.picture.marks
        .map((mark) => mark.kind)
        .join(" ");
    }
  });
}

if (body.dataset.page === "list") listPage();
if (body.dataset.page === "rollout") rolloutPage();
