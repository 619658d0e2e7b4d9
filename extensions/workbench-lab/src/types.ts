/**
 * The JSON shapes of the workbench REST routes (docs/lab-rest-api.md).
 *
 * Every timestamp is Unix seconds (a float); every path is relative to the
 * Jupyter server's root folder with `/` separators.
 */

export type ProblemType = string;

/** `GET datasets` -> `{"datasets": [DatasetEntry]}`. */
export interface IDatasetEntry {
  name: string;
  kind: 'bundled' | 'file' | 'sql' | string;
  rows: number | null;
  columns: number | null;
  target: string | null;
  problem_type: ProblemType | null;
  metric: string | null;
  description: string | null;
  location: string | null;
  format: string | null;
}

export interface IColumnProfile {
  name: string;
  dtype: string;
  kind: string;
  missing_share: number;
  n_unique: number;
  constant: boolean;
  id_like: boolean;
  top_values: unknown;
  mean: number | null;
  std: number | null;
  min: unknown;
  max: unknown;
}

/** `GET datasets/{name}/profile`. */
export interface IProfile {
  dataset: string;
  rows: number;
  columns: number;
  target: string | null;
  problem_type: ProblemType | null;
  metric: string | null;
  memory_bytes: number | null;
  target_distribution: unknown;
  column_profiles: IColumnProfile[];
}

export interface IBudget {
  time_limit_s: number | null;
  n_trials: number | null;
}

/** Where a search stands. */
export interface ISearchProgress {
  experiment_id: number;
  status: string;
  metric: string;
  done: number;
  target: number | null;
  complete: number;
  pruned: number;
  failed: number;
  cancelled: number;
  running: number;
  queued: number;
  best_name: string | null;
  best_engine: string | null;
  best_score: number | null;
  job_id: number | null;
  job_status: string | null;
  started_at: number | null;
  finished_at: number | null;
  elapsed_s: number | null;
  time_limit_s: number | null;
  time_left_s: number | null;
  stop_requested: 'finish' | 'cancel' | null;
  /** The status to show: `status`, with ", wrapping up" while the job runs after the trials ended. */
  shown_status?: string;
}

/** An `Experiment` plus its search progress. */
export interface IExperimentItem {
  id: number;
  name: string;
  dataset: string;
  target: string;
  problem_type: ProblemType;
  metric: string;
  status: string;
  created_at: number;
  budget: IBudget;
  search: { [key: string]: unknown } | null;
  progress: ISearchProgress | null;
  /** The folds candidates are scored over (1: the valid rows). */
  cv_folds?: number;
  /** Which rows the valid scores are measured on, in a sentence. */
  selection?: string;
}

export type StopMode = 'finish' | 'cancel';

export interface ILatency {
  p50: number;
  p99: number;
}

export interface IModelMetrics {
  metric?: string;
  valid_score?: number | null;
  test_score?: number | null;
  serving_latency_ms?: { [batch: string]: ILatency } | null;
  trained_on?: { mode: string; rows: number } | null;
  [key: string]: unknown;
}

/** `GET models` -> `{"models": [VersionInfo]}`. */
export interface IVersionInfo {
  name: string;
  version: number | string;
  ref: string;
  aliases: string[];
  metrics: IModelMetrics;
  created_at: number;
  description: string | null;
  source: { kind: string; id: unknown; experiment_id: number | null } | null;
  trusted: boolean;
}

export interface IContractCheck {
  passed: boolean;
  mismatches: unknown[];
  latency_ms: unknown;
}

/** `POST models/{name}/{version}/promote`. */
export interface IPromotion {
  version: IVersionInfo;
  alias: string;
  contract: IContractCheck | null;
}

export type EndpointStatus = 'starting' | 'ready' | 'stopped' | 'failed';

export interface IEndpoint {
  id: number;
  model: string;
  version: number | string;
  host: string;
  port: number;
  url: string;
  pid: number | null;
  status: EndpointStatus | string;
  log_path: string | null;
  created_at: number;
  job_id: number | null;
}

export interface IEndpointItem extends IEndpoint {
  metrics: { requests: number; errors: number } | null;
}

export type ColumnKind = 'numeric' | 'categorical' | 'boolean' | 'datetime';

export interface IInputColumn {
  name: string;
  kind: ColumnKind | string;
  dtype: string;
  required: boolean;
  categories: string[] | null;
}

/** `GET endpoints/{id}/schema` and `GET models/{name}/{version}/schema`. */
export interface IInputSchema {
  columns: IInputColumn[];
}

/** `POST endpoints/{id}/predict`. */
export interface IEndpointPrediction {
  predictions: unknown[];
  probabilities: number[][] | null;
  classes: unknown[] | null;
}

export type JobStatus =
  | 'starting'
  | 'running'
  | 'finished'
  | 'stopped'
  | 'cancelled'
  | 'failed';

/** `GET jobs` -> `{"jobs": [JobItem]}`. */
export interface IJobItem {
  id: number;
  kind: 'search' | 'endpoint' | 'notebook' | string;
  status: JobStatus | string;
  params: { [key: string]: unknown } | null;
  experiment_id: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  duration_s: number | null;
  log_path: string | null;
  outputs: unknown;
  error: string | null;
  lab_path: string | null;
  title: string;
}

/** One name of a notebook's `parameters` cell. */
export interface INotebookParameter {
  name: string;
  /** The type papermill infers: "int", "float", "str", "bool", "None", ... */
  type: string;
  /** The default as written in the cell, e.g. `"penguins"` or `3`. */
  default: string;
  help: string;
}

export interface INotebookParameters {
  path: string;
  parameters: INotebookParameter[];
}

/** A JSON value as sent in request bodies. */
export type JSONValue =
  | string
  | number
  | boolean
  | null
  | JSONValue[]
  | { [key: string]: JSONValue };
