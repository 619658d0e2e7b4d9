import type {
  IEndpointItem,
  IExperimentItem,
  IJobItem,
  ISearchProgress,
  IVersionInfo
} from '../types';

export function progress(over: Partial<ISearchProgress> = {}): ISearchProgress {
  return {
    experiment_id: 1,
    status: 'searching',
    metric: 'accuracy',
    done: 4,
    target: 10,
    complete: 4,
    pruned: 0,
    failed: 0,
    cancelled: 0,
    running: 2,
    queued: 4,
    best_name: 'LightGBM',
    best_engine: 'optuna',
    best_score: 0.912345,
    job_id: 7,
    job_status: 'running',
    started_at: 1_700_000_000,
    finished_at: null,
    elapsed_s: 30,
    time_limit_s: null,
    time_left_s: null,
    stop_requested: null,
    ...over
  };
}

export function experiment(
  over: Partial<IExperimentItem> = {},
  progressOver: Partial<ISearchProgress> | null = {}
): IExperimentItem {
  return {
    id: 1,
    name: 'penguins-search',
    dataset: 'penguins',
    target: 'species',
    problem_type: 'multiclass',
    metric: 'accuracy',
    status: 'created',
    created_at: 1_700_000_000,
    budget: { time_limit_s: null, n_trials: 10 },
    search: null,
    progress: progressOver === null ? null : progress(progressOver),
    ...over
  };
}

export function job(over: Partial<IJobItem> = {}): IJobItem {
  return {
    id: 3,
    kind: 'search',
    status: 'running',
    params: {},
    experiment_id: 1,
    created_at: 1_700_000_000,
    started_at: 1_700_000_001,
    finished_at: null,
    duration_s: null,
    log_path: '/tmp/job-3.log',
    outputs: null,
    error: null,
    lab_path: null,
    title: 'search experiment 1',
    ...over
  };
}

export function endpoint(over: Partial<IEndpointItem> = {}): IEndpointItem {
  return {
    id: 2,
    model: 'penguins',
    version: 1,
    host: '127.0.0.1',
    port: 8123,
    url: 'http://127.0.0.1:8123',
    pid: 1234,
    status: 'ready',
    log_path: '/tmp/ep.log',
    created_at: 1_700_000_000,
    job_id: 4,
    metrics: { requests: 5, errors: 1 },
    ...over
  };
}

export function version(over: Partial<IVersionInfo> = {}): IVersionInfo {
  return {
    name: 'penguins',
    version: 1,
    ref: 'penguins@1',
    aliases: ['staging'],
    metrics: {
      metric: 'accuracy',
      valid_score: 0.95,
      test_score: 0.94,
      serving_latency_ms: { b1: { p50: 1.234, p99: 3.2 } }
    },
    created_at: 1_700_000_000,
    description: null,
    source: { kind: 'candidate', id: 5, experiment_id: 1 },
    trusted: true,
    ...over
  };
}
