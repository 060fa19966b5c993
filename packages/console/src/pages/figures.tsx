// The figures a dispatcher and an owner trust: sessions, verification, callbacks, first-contact resolution and time
// to close, by technician, client or week, computed by the server from the records. Drawn with Chart.js (canvas,
// tree-shaken to the bar chart), each figure defined in one sentence under the charts.
import { FIGURES } from "@caisey/core/metrics";
import type { AnswerOf } from "@caisey/core/routes";
import * as routes from "@caisey/core/routes";
import {
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  type ChartConfiguration,
  Legend,
  LinearScale,
  Tooltip,
} from "chart.js";
import { useEffect, useRef, useState } from "preact/hooks";
import { api, errorMessage, type Me } from "../api.ts";
import { DataTable, ErrorBanner } from "./ui.tsx";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);
// Legible on the console's dark panels.
Chart.defaults.color = "#9aa6b5";
Chart.defaults.borderColor = "#263040";

type Group = "technician" | "client" | "week";
type Metrics = AnswerOf<typeof routes.metrics>;
type Row = Metrics["rows"][number];

const GROUPS: { value: Group; label: string }[] = [
  { value: "technician", label: "By technician" },
  { value: "client", label: "By client" },
  { value: "week", label: "By week" },
];

const percent = (v: number | null) => (v === null ? null : Math.round(v * 1000) / 10);
const shown = (v: number | null, unit = "") => (v === null ? "—" : `${v}${unit}`);

export function FiguresPage(_: { me: Me }) {
  const [group, setGroup] = useState<Group>("technician");
  const [data, setData] = useState<Metrics | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let alive = true;
    setData(null);
    api(routes.metrics, { query: { groupBy: group } })
      .then((answer) => {
        if (alive) {
          setData(answer);
          setError(null);
        }
      })
      .catch((err) => alive && setError(errorMessage(err)));
    return () => {
      alive = false;
    };
  }, [group]);

  const rows = data?.rows ?? [];
  const labels = rows.map((r) => r.label);
  return (
    <div class="page" data-testid="figures-page">
      <div class="page-head">
        <h1>Figures</h1>
        <span class="muted">
          {data
            ? `Sessions opened from ${data.from.slice(0, 10)} to ${data.to.slice(0, 10)}; callbacks within ${data.callbackDays} days of a close.`
            : "Computed from the session records, never self-reported."}
        </span>
      </div>
      <div class="tabs" role="tablist">
        {GROUPS.map((g) => (
          <button
            key={g.value}
            type="button"
            role="tab"
            aria-selected={group === g.value}
            class={group === g.value ? "primary small" : "small"}
            onClick={() => setGroup(g.value)}
            data-testid={`figures-${g.value}`}
          >
            {g.label}
          </button>
        ))}
      </div>
      {error && <ErrorBanner message={`Could not load the figures: ${error}`} />}
      {data && rows.length === 0 && (
        <div class="card muted" data-testid="no-figures">
          No session was opened in this period.
        </div>
      )}
      {rows.length > 0 && (
        <div class="charts">
          <ChartCard
            title="Sessions"
            testId="chart-sessions"
            config={{
              type: "bar",
              data: {
                labels,
                datasets: [
                  { label: "Sessions", data: rows.map((r) => r.sessions), backgroundColor: "#94a3b8" },
                  { label: "Closed", data: rows.map((r) => r.closed), backgroundColor: "#3b82f6" },
                  { label: "Verified", data: rows.map((r) => r.verified), backgroundColor: "#16a34a" },
                  { label: "Callbacks", data: rows.map((r) => r.callbacks), backgroundColor: "#dc2626" },
                ],
              },
              options: {
                responsive: true,
                maintainAspectRatio: false,
                scales: { y: { beginAtZero: true, ticks: { precision: 0 } } },
              },
            }}
          />
          <ChartCard
            title="Rates (% of closed sessions)"
            testId="chart-rates"
            config={{
              type: "bar",
              data: {
                labels,
                datasets: [
                  {
                    label: "Verification rate",
                    data: rows.map((r) => percent(r.verificationRate)),
                    backgroundColor: "#16a34a",
                  },
                  {
                    label: "Callback rate",
                    data: rows.map((r) => percent(r.callbackRate)),
                    backgroundColor: "#dc2626",
                  },
                  {
                    label: "First-contact resolution",
                    data: rows.map((r) => percent(r.firstContactResolution)),
                    backgroundColor: "#7c3aed",
                  },
                ],
              },
              options: { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true, max: 100 } } },
            }}
          />
          <ChartCard
            title="Median minutes to close"
            testId="chart-minutes"
            config={{
              type: "bar",
              data: {
                labels,
                datasets: [
                  {
                    label: "Median minutes to close",
                    data: rows.map((r) => r.medianMinutesToClose),
                    backgroundColor: "#f59e0b",
                  },
                ],
              },
              options: { responsive: true, maintainAspectRatio: false, scales: { y: { beginAtZero: true } } },
            }}
          />
        </div>
      )}
      {rows.length > 0 && <FiguresTable rows={rows} group={group} />}
      <section class="card definitions" data-testid="figure-definitions">
        <h2>What each figure means</h2>
        <ul>
          {Object.entries(FIGURES).map(([key, sentence]) => (
            <li key={key}>{sentence}</li>
          ))}
        </ul>
      </section>
    </div>
  );
}

/** One Chart.js bar chart on its own canvas, rebuilt when its data changes and destroyed with the page. */
function ChartCard({ title, testId, config }: { title: string; testId: string; config: ChartConfiguration<"bar"> }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    const chart = new Chart(canvas.current, { ...config, options: { ...config.options, animation: false } });
    return () => chart.destroy();
  }, [JSON.stringify(config.data)]);
  return (
    <section class="card chart" data-testid={testId}>
      <h2>{title}</h2>
      <div class="chart-box">
        <canvas ref={canvas} />
      </div>
    </section>
  );
}

function FiguresTable({ rows, group }: { rows: Row[]; group: Group }) {
  return (
    <div class="card flush">
      <DataTable
        testId="figures-table"
        columns={[
          group === "week" ? "Week" : group === "client" ? "Client" : "Technician",
          "Sessions",
          "Closed",
          "Verified",
          "Callbacks",
          "Callback rate",
          "First-contact resolution",
          "Median time to close",
        ]}
        loading={false}
        empty={false}
        emptyTestId="no-figure-rows"
      >
        {rows.map((r) => (
          <tr key={r.key} data-testid="figures-row" data-key={r.key}>
            <td class="strong">{r.label}</td>
            <td>{r.sessions}</td>
            <td>{r.closed}</td>
            <td>{r.verified}</td>
            <td>{r.callbacks}</td>
            <td>{shown(percent(r.callbackRate), " %")}</td>
            <td>{shown(percent(r.firstContactResolution), " %")}</td>
            <td>{shown(r.medianMinutesToClose, " min")}</td>
          </tr>
        ))}
      </DataTable>
    </div>
  );
}
