/**
 * The panel's state and the rules behind what it shows: pure TypeScript,
 * no DOM and no JupyterLab imports, so that it is testable on its own.
 */

import type {
  IDatasetEntry,
  IEndpointItem,
  IEndpointPrediction,
  IExperimentItem,
  IInputColumn,
  IJobItem,
  INotebookParameter,
  ISearchProgress,
  IVersionInfo,
  JSONValue
} from './types';

/** The five sections of the panel, in order. */
export const SECTIONS = [
  'datasets',
  'experiments',
  'models',
  'endpoints',
  'jobs'
] as const;
export type SectionName = (typeof SECTIONS)[number];

/** Job statuses of something still running. */
export const ACTIVE_STATUSES: ReadonlyArray<string> = ['starting', 'running'];

/** Whether a job status means the job is still running. */
export function isActive(status: string | null | undefined): boolean {
  return !!status && ACTIVE_STATUSES.includes(status);
}

// ---------------------------------------------------------------- progress

/** What a `<progress>` element shows for a search. */
export interface IProgressView {
  value: number;
  max: number;
  /** value / max in [0, 1]. */
  fraction: number;
  /** What is counted: trials, or seconds of the time budget. */
  unit: 'trials' | 'seconds';
}

/**
 * The progress bar of a search: finished trials out of the trial target when
 * the budget counts trials, else elapsed seconds out of the time limit; null
 * when neither is known (no search yet, or no budget).
 */
export function progressView(
  progress: ISearchProgress | null | undefined
): IProgressView | null {
  if (!progress) {
    return null;
  }
  if (progress.target !== null && progress.target > 0) {
    const max = progress.target;
    const value = clamp(progress.done, 0, max);
    return { value, max, fraction: value / max, unit: 'trials' };
  }
  const limit = progress.time_limit_s;
  if (limit !== null && limit > 0) {
    const elapsed = progress.elapsed_s ?? 0;
    const value = clamp(elapsed, 0, limit);
    return { value, max: limit, fraction: value / limit, unit: 'seconds' };
  }
  return null;
}

/** "7/20 trials", or "7 trials" without a trial target. */
export function trialsText(progress: ISearchProgress | null | undefined): string {
  if (!progress) {
    return 'no search yet';
  }
  return progress.target !== null
    ? `${progress.done}/${progress.target} trials`
    : `${progress.done} trials`;
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

// ----------------------------------------------------------------- actions

/** The status shown for an experiment: its search's while one ran. */
export function experimentStatus(item: IExperimentItem): string {
  const progress = item.progress;
  const status = progress?.shown_status || progress?.status || item.status;
  if (progress && isActive(progress.job_status) && progress.stop_requested) {
    return progress.stop_requested === 'cancel'
      ? `${status} (cancelling)`
      : `${status} (finishing)`;
  }
  return status;
}

/** Whether an experiment's search is running (its job starting or running). */
export function experimentRunning(item: IExperimentItem): boolean {
  return isActive(item.progress?.job_status);
}

/**
 * The buttons of an experiment row: the report always; finish and cancel
 * while its search runs (finish until a stop was asked, cancel until a
 * cancel was asked).
 */
export function experimentActions(item: IExperimentItem): string[] {
  const actions = ['report'];
  if (experimentRunning(item)) {
    const requested = item.progress?.stop_requested ?? null;
    if (requested === null) {
      actions.push('finish');
    }
    if (requested !== 'cancel') {
      actions.push('cancel');
    }
  }
  return actions;
}

/**
 * The buttons of a job row: open-output for a notebook job whose output is
 * under the server root, the log always, cancel while it runs.
 */
export function jobActions(job: IJobItem): string[] {
  const actions: string[] = [];
  if (job.kind === 'notebook' && job.lab_path) {
    actions.push('open-output');
  }
  actions.push('log');
  if (isActive(job.status)) {
    actions.push('cancel');
  }
  return actions;
}

/**
 * The buttons of an endpoint row: try-it and copy-curl once it answers, the
 * log always, stop until it stopped or failed.
 */
export function endpointActions(endpoint: IEndpointItem): string[] {
  const actions: string[] = [];
  if (endpoint.status === 'ready') {
    actions.push('try-it', 'copy-curl');
  }
  actions.push('log');
  if (endpoint.status === 'ready' || endpoint.status === 'starting') {
    actions.push('stop');
  }
  return actions;
}

// ----------------------------------------------------------------- backoff

/** The longest wait between two refreshes, in seconds. */
export const MAX_INTERVAL_S = 60;

/**
 * The wait before the next refresh: the interval, doubled after each failed
 * refresh in a row, at most 60 s (or the interval itself if longer).
 */
export function backoffDelay(
  interval: number,
  failures: number,
  max = MAX_INTERVAL_S
): number {
  const base = Math.max(1, interval);
  const doubled = base * Math.pow(2, Math.max(0, failures));
  return Math.min(Math.max(base, max), doubled);
}

/** Counts failures in a row and says how long to wait. */
export class Backoff {
  constructor(interval: number, max = MAX_INTERVAL_S) {
    this.interval = interval;
    this.max = max;
  }

  /** The configured interval in seconds (the wait after a success). */
  interval: number;
  readonly max: number;

  /** Failed refreshes in a row. */
  get failures(): number {
    return this._failures;
  }

  /** The wait before the next refresh, in seconds. */
  get delay(): number {
    return backoffDelay(this.interval, this._failures, this.max);
  }

  /** A refresh failed: the next wait doubles. Returns it. */
  failure(): number {
    this._failures += 1;
    return this.delay;
  }

  /** A refresh worked: back to the interval. Returns it. */
  success(): number {
    this._failures = 0;
    return this.delay;
  }

  private _failures = 0;
}

// -------------------------------------------------------------- panel state

/** What the panel reads on every refresh (a `WorkbenchClient` does). */
export interface IWorkbenchSource {
  datasets(): Promise<IDatasetEntry[]>;
  experiments(): Promise<IExperimentItem[]>;
  models(): Promise<IVersionInfo[]>;
  endpoints(): Promise<IEndpointItem[]>;
  jobs(): Promise<IJobItem[]>;
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

/**
 * The lists the panel shows, the refresh error and the actions in progress.
 *
 * A refresh reads the five lists at once; a list that fails keeps its last
 * value and its error is shown. Listeners are called after every change.
 */
export class PanelModel {
  constructor(interval = 3) {
    this.backoff = new Backoff(interval);
  }

  datasets: IDatasetEntry[] = [];
  experiments: IExperimentItem[] = [];
  models: IVersionInfo[] = [];
  endpoints: IEndpointItem[] = [];
  jobs: IJobItem[] = [];

  /** The last refresh's error (null when it worked). */
  error: string | null = null;
  /** The last failed action's error, until dismissed or another action works. */
  actionError: string | null = null;
  /** Whether a refresh has completed at least once. */
  loaded = false;
  readonly backoff: Backoff;

  /** The error to show in the banner. */
  get banner(): string | null {
    return this.actionError ?? this.error;
  }

  /** Call `listener` after every change; returns the unsubscribe call. */
  onChange(listener: () => void): () => void {
    this._listeners.add(listener);
    return () => this._listeners.delete(listener);
  }

  /** Whether an action is running (e.g. `serve:penguins@1`). */
  isBusy(key: string): boolean {
    return this._busy.has(key);
  }

  setBusy(key: string, busy: boolean): void {
    if (busy) {
      this._busy.add(key);
    } else {
      this._busy.delete(key);
    }
    this._emit();
  }

  setActionError(message: string | null): void {
    this.actionError = message;
    this._emit();
  }

  /**
   * Read every list from `source`. A refresh asked while one runs runs once
   * more after it, so an action's effect is always seen.
   */
  refresh(source: IWorkbenchSource): Promise<void> {
    if (this._inflight) {
      this._again = true;
      return this._inflight;
    }
    this._inflight = (async () => {
      try {
        do {
          this._again = false;
          await this._load(source);
        } while (this._again);
      } finally {
        this._inflight = null;
      }
    })();
    return this._inflight;
  }

  private async _load(source: IWorkbenchSource): Promise<void> {
    const [datasets, experiments, models, endpoints, jobs] =
      await Promise.allSettled([
        source.datasets(),
        source.experiments(),
        source.models(),
        source.endpoints(),
        source.jobs()
      ]);
    let error: string | null = null;
    const take = <T>(result: PromiseSettledResult<T>, keep: T): T => {
      if (result.status === 'fulfilled') {
        return result.value;
      }
      error = error ?? messageOf(result.reason);
      return keep;
    };
    this.datasets = take(datasets, this.datasets);
    this.experiments = take(experiments, this.experiments);
    this.models = take(models, this.models);
    this.endpoints = take(endpoints, this.endpoints);
    this.jobs = take(jobs, this.jobs);
    this.error = error;
    if (error === null) {
      this.loaded = true;
      this.backoff.success();
    } else {
      this.backoff.failure();
    }
    this._emit();
  }

  private _emit(): void {
    for (const listener of Array.from(this._listeners)) {
      listener();
    }
  }

  private _busy = new Set<string>();
  private _listeners = new Set<() => void>();
  private _inflight: Promise<void> | null = null;
  private _again = false;
}

/** The settings of plugin `workbench-lab:panel`. */
export interface IWorkbenchSettings {
  /** The WORKBENCH_HOME folder ('' uses the server's). */
  workspace: string;
  /** The default cluster of batch jobs. */
  cluster: string;
  /** Seconds between refreshes (at least 1). */
  refreshInterval: number;
}

export const DEFAULT_SETTINGS: IWorkbenchSettings = {
  workspace: '',
  cluster: 'local:2',
  refreshInterval: 3
};

/** The settings, with defaults for missing or malformed values. */
export function readSettings(raw: {
  [key: string]: unknown;
}): IWorkbenchSettings {
  const interval = Number(raw.refreshInterval);
  return {
    workspace:
      typeof raw.workspace === 'string'
        ? raw.workspace.trim()
        : DEFAULT_SETTINGS.workspace,
    cluster:
      typeof raw.cluster === 'string' ? raw.cluster.trim() : DEFAULT_SETTINGS.cluster,
    refreshInterval: Number.isFinite(interval)
      ? Math.max(1, interval)
      : DEFAULT_SETTINGS.refreshInterval
  };
}

// ------------------------------------------------------------------ try it

/** A form field's value: the text typed, or a checkbox's state. */
export type FormValue = string | boolean;

export interface IRowResult {
  /** The row to send: `{"rows": [row]}`. */
  row: { [column: string]: JSONValue };
  /** What to fix before sending (empty when the row is complete). */
  errors: string[];
}

/**
 * The row sent by the Try-it form: numbers as numbers, checkboxes as
 * booleans, the rest as text; empty optional fields left out, empty required
 * fields and non-numbers in numeric fields reported.
 */
export function buildPredictRow(
  columns: IInputColumn[],
  values: { [name: string]: FormValue | undefined }
): IRowResult {
  const row: { [column: string]: JSONValue } = {};
  const errors: string[] = [];
  for (const column of columns) {
    const value = values[column.name];
    if (column.kind === 'boolean') {
      if (typeof value === 'boolean') {
        row[column.name] = value;
      } else if (typeof value === 'string' && value.trim() !== '') {
        row[column.name] = ['true', '1', 'yes', 'on'].includes(
          value.trim().toLowerCase()
        );
      } else if (column.required) {
        errors.push(`${column.name} is required.`);
      }
      continue;
    }
    const text = typeof value === 'string' ? value.trim() : '';
    if (text === '') {
      if (column.required) {
        errors.push(`${column.name} is required.`);
      }
      continue;
    }
    if (column.kind === 'numeric') {
      const number = Number(text);
      if (!Number.isFinite(number)) {
        errors.push(`${column.name} takes a number, not "${text}".`);
        continue;
      }
      row[column.name] = number;
    } else {
      row[column.name] = text;
    }
  }
  return { row, errors };
}

/** The class -> probability pairs of the first answer, most likely first. */
export function probabilityRows(
  prediction: IEndpointPrediction,
  index = 0
): { label: string; probability: number }[] {
  const probabilities = prediction.probabilities?.[index];
  const classes = prediction.classes;
  if (!probabilities || !classes) {
    return [];
  }
  return probabilities
    .map((probability, i) => ({
      label: String(classes[i] ?? i),
      probability
    }))
    .sort((a, b) => b.probability - a.probability);
}

/** An example value for a column of the input schema. */
export function exampleValue(column: IInputColumn): JSONValue {
  switch (column.kind) {
    case 'numeric':
      return 0;
    case 'boolean':
      return false;
    case 'categorical':
      return column.categories && column.categories.length > 0
        ? column.categories[0]
        : '';
    case 'datetime':
      return '2024-01-01T00:00:00';
    default:
      return '';
  }
}

/** `text` single-quoted for a POSIX shell. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

/**
 * A curl call of the endpoint's `/predict` with one example row: that route
 * takes a list of records (the server extension's own predict route takes
 * `{rows: [...]}`, but the copied call goes to the endpoint itself).
 */
export function curlCommand(url: string, columns: IInputColumn[]): string {
  const row: { [column: string]: JSONValue } = {};
  for (const column of columns) {
    row[column.name] = exampleValue(column);
  }
  const body = JSON.stringify([row]);
  const target = `${url.replace(/\/+$/, '')}/predict`;
  return (
    `curl -s -X POST ${shellQuote(target)} ` +
    `-H 'Content-Type: application/json' -d ${shellQuote(body)}`
  );
}

// -------------------------------------------------------- batch parameters

/** `text` without one pair of matching surrounding quotes. */
export function stripQuotes(text: string): string {
  const t = text.trim();
  for (const quote of ['"""', "'''", '"', "'"]) {
    if (
      t.length >= 2 * quote.length &&
      t.startsWith(quote) &&
      t.endsWith(quote)
    ) {
      return t.slice(quote.length, t.length - quote.length);
    }
  }
  return text;
}

const TRUE_WORDS = ['true', '1', 'yes', 'on'];
const FALSE_WORDS = ['false', '0', 'no', 'off'];

/**
 * A batch-job parameter as typed, converted to its JSON value: int/float
 * text that parses as a number is a number, bool text is true/false, str
 * text loses the quotes a default like `"penguins"` carries; anything else
 * is sent as typed (the server says what it expects).
 */
export function convertParameter(
  parameter: INotebookParameter,
  text: string
): JSONValue {
  const t = text.trim();
  switch (parameter.type) {
    case 'int':
    case 'float': {
      const number = Number(t);
      return t !== '' && Number.isFinite(number) ? number : text;
    }
    case 'bool': {
      const word = t.toLowerCase();
      if (TRUE_WORDS.includes(word)) {
        return true;
      }
      if (FALSE_WORDS.includes(word)) {
        return false;
      }
      return text;
    }
    case 'str':
      return stripQuotes(text);
    default: {
      // "None" or a container: a Python-ish literal, else the text.
      if (t === 'None') {
        return null;
      }
      if (t === 'True' || t === 'False') {
        return t === 'True';
      }
      try {
        return JSON.parse(t) as JSONValue;
      } catch {
        return stripQuotes(text);
      }
    }
  }
}

/**
 * The parameters to send: those whose text differs from the default as
 * written, converted by `convertParameter`.
 */
export function changedParameters(
  parameters: INotebookParameter[],
  texts: { [name: string]: string | undefined }
): { [name: string]: JSONValue } {
  const changed: { [name: string]: JSONValue } = {};
  for (const parameter of parameters) {
    const text = texts[parameter.name];
    if (text === undefined || text.trim() === parameter.default.trim()) {
      continue;
    }
    changed[parameter.name] = convertParameter(parameter, text);
  }
  return changed;
}

// -------------------------------------------------------------- formatting

function missing(value: number | null | undefined): value is null | undefined {
  return value === null || value === undefined || !Number.isFinite(value);
}

/**
 * A score with 4 decimals, as the CLI and the widgets print it, so that
 * scores side by side line up ("–" when missing).
 */
export function formatScore(score: number | null | undefined): string {
  return missing(score) ? '–' : score.toFixed(4);
}

/** A predicted number with 4 significant digits ("–" when missing). */
export function formatValue(value: number | null | undefined): string {
  return missing(value) ? '–' : Number(value.toPrecision(4)).toString();
}

/** A probability with 4 decimals; one too small to show is "<0.0001". */
export function formatProbability(p: number | null | undefined): string {
  if (missing(p)) {
    return '–';
  }
  return p > 0 && p < 0.00005 ? '<0.0001' : p.toFixed(4);
}

/** Milliseconds with 2 decimals ("–" when missing). */
export function formatMs(ms: number | null | undefined): string {
  return missing(ms) ? '–' : `${ms.toFixed(2)} ms`;
}

/** A duration: "42 s", "3 min 5 s", "2 h 10 min". */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) {
    return '–';
  }
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) {
    return `${s} s`;
  }
  if (s < 3600) {
    const rest = s % 60;
    return rest ? `${Math.floor(s / 60)} min ${rest} s` : `${s / 60} min`;
  }
  const minutes = Math.floor((s % 3600) / 60);
  return `${Math.floor(s / 3600)} h${minutes ? ` ${minutes} min` : ''}`;
}

/** A Unix timestamp in local time. */
export function formatTime(timestamp: number | null | undefined): string {
  if (timestamp === null || timestamp === undefined) {
    return '–';
  }
  return new Date(timestamp * 1000).toLocaleString();
}

/** How long a job ran, or has been running (`now` in Unix seconds). */
export function jobDuration(job: IJobItem, now = Date.now() / 1000): number | null {
  if (job.duration_s !== null && job.duration_s !== undefined) {
    return job.duration_s;
  }
  if (job.started_at === null || job.started_at === undefined) {
    return null;
  }
  return (job.finished_at ?? now) - job.started_at;
}

/** The serving latency p50 at batch size 1, in ms, when measured. */
export function latencyP50(model: IVersionInfo): number | null {
  const p50 = model.metrics?.serving_latency_ms?.b1?.p50;
  return typeof p50 === 'number' ? p50 : null;
}

/** `name@version` of a model version. */
export function modelRef(model: IVersionInfo): string {
  return model.ref || `${model.name}@${model.version}`;
}

/** The model an endpoint serves, as `name@version` (its `model` may already be the ref). */
export function endpointModel(endpoint: {
  model: string;
  version: number | string | null;
}): string {
  if (endpoint.model.includes('@') || endpoint.version === null) {
    return endpoint.model;
  }
  return `${endpoint.model}@${endpoint.version}`;
}

/** An http(s) URL, or null for anything else (never a `javascript:` link). */
export function safeHttpUrl(url: string | null | undefined): string | null {
  if (!url) {
    return null;
  }
  return /^https?:\/\//i.test(url.trim()) ? url.trim() : null;
}
