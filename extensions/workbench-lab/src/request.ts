import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import type {
  IDatasetEntry,
  IEndpoint,
  IEndpointItem,
  IEndpointPrediction,
  IExperimentItem,
  IInputSchema,
  IJobItem,
  INotebookParameters,
  IProfile,
  IPromotion,
  IVersionInfo,
  JSONValue,
  StopMode
} from './types';

/** The URL namespace of the server extension's routes. */
export const API_NAMESPACE = ['workbench', 'api'];

/**
 * A refusal by the server (a 4xx/5xx answer) or a failure to reach it.
 *
 * `message` is the server's own `{"message": ...}` sentence when it sent one;
 * `status` is the HTTP status, or 0 when the server could not be reached.
 */
export class APIError extends Error {
  readonly status: number;

  constructor(status: number, message: string) {
    super(message);
    this.name = 'APIError';
    this.status = status;
    // Keep `instanceof` working when compiled to ES5-style classes.
    Object.setPrototypeOf(this, APIError.prototype);
  }
}

/** Query parameters; `undefined`, `null` and `''` values are left out. */
export type Query = {
  [key: string]: string | number | boolean | null | undefined;
};

/**
 * `endPoint` with a query string built from `query` (values URL-encoded).
 */
export function withQuery(endPoint: string, query: Query = {}): string {
  const kept: { [key: string]: string } = {};
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== '') {
      kept[key] = String(value);
    }
  }
  if (Object.keys(kept).length === 0) {
    return endPoint;
  }
  const separator = endPoint.includes('?') ? '&' : '?';
  return endPoint + separator + URLExt.objectToQueryString(kept).slice(1);
}

/**
 * A route path from segments, each URL-encoded (dataset and model names are
 * user data: `a/b` or `x?y` must stay one segment).
 */
export function routePath(...segments: (string | number)[]): string {
  return segments
    .map(s => {
      const text = String(s);
      // `.` and `..` would be collapsed by URL normalisation: escape them.
      return text === '.' || text === '..'
        ? text.replace(/\./g, '%2E')
        : encodeURIComponent(text);
    })
    .join('/');
}

/** The full URL of a route, under `{baseUrl}/workbench/api/`. */
export function apiUrl(
  endPoint: string,
  settings: ServerConnection.ISettings
): string {
  // Join the path only: the query string is kept verbatim.
  const at = endPoint.indexOf('?');
  const path = at < 0 ? endPoint : endPoint.slice(0, at);
  const query = at < 0 ? '' : endPoint.slice(at);
  return URLExt.join(settings.baseUrl, ...API_NAMESPACE, path) + query;
}

/**
 * Call a workbench route and return its JSON answer (or text, when the
 * answer is not JSON).
 *
 * @param endPoint the route below `workbench/api/`, with its query string
 * @param init the fetch options (method, body, ...)
 * @param settings the server settings (default: the page's)
 * @throws APIError with the server's message on a non-2xx answer, or with
 *   status 0 when the server cannot be reached
 */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  settings?: ServerConnection.ISettings
): Promise<T> {
  const serverSettings = settings ?? ServerConnection.makeSettings();
  const url = apiUrl(endPoint, serverSettings);

  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, serverSettings);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new APIError(
      0,
      `Could not reach the Jupyter server (${reason}); check that it is still running.`
    );
  }

  const text = await response.text();
  let data: any = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      // Not JSON (the report is HTML): return the text as is.
    }
  }

  if (!response.ok) {
    throw new APIError(response.status, errorMessage(response, data));
  }
  return data as T;
}

/** The sentence to show for a refused request. */
function errorMessage(response: Response, data: any): string {
  if (data && typeof data === 'object' && typeof data.message === 'string') {
    return data.message;
  }
  if (response.status === 404) {
    return 'The workbench server extension did not answer (HTTP 404); check that it is installed and enabled.';
  }
  const reason = response.statusText ? ` ${response.statusText}` : '';
  return `The server refused the request (HTTP ${response.status}${reason}).`;
}

/**
 * Typed calls of every route of docs/lab-rest-api.md.
 *
 * Adds `workspace=` to every request when the workspace setting is not empty.
 */
export class WorkbenchClient {
  constructor(options: WorkbenchClient.IOptions = {}) {
    this._settings = options.serverSettings;
    this._workspace = options.workspace ?? (() => '');
  }

  /** The server settings the client uses. */
  get serverSettings(): ServerConnection.ISettings {
    if (!this._settings) {
      this._settings = ServerConnection.makeSettings();
    }
    return this._settings;
  }

  /** The route with the workspace query added. */
  endPoint(path: string, query: Query = {}): string {
    return withQuery(path, { ...query, workspace: this._workspace() });
  }

  /** The full URL of a route (for an iframe or a link). */
  url(path: string, query: Query = {}): string {
    return apiUrl(this.endPoint(path, query), this.serverSettings);
  }

  get<T>(path: string, query: Query = {}): Promise<T> {
    return requestAPI<T>(
      this.endPoint(path, query),
      { method: 'GET' },
      this.serverSettings
    );
  }

  post<T>(path: string, body: JSONValue = {}, query: Query = {}): Promise<T> {
    return requestAPI<T>(
      this.endPoint(path, query),
      {
        method: 'POST',
        body: JSON.stringify(body),
        headers: { 'Content-Type': 'application/json' }
      },
      this.serverSettings
    );
  }

  // Datasets

  async datasets(): Promise<IDatasetEntry[]> {
    return (await this.get<{ datasets: IDatasetEntry[] }>('datasets'))
      .datasets;
  }

  profile(name: string): Promise<IProfile> {
    return this.get<IProfile>(routePath('datasets', name, 'profile'));
  }

  async newNotebook(name: string, path?: string): Promise<string> {
    const body: { [key: string]: JSONValue } = path ? { path } : {};
    return (
      await this.post<{ path: string }>(
        routePath('datasets', name, 'notebook'),
        body
      )
    ).path;
  }

  // Experiments

  async experiments(): Promise<IExperimentItem[]> {
    return (await this.get<{ experiments: IExperimentItem[] }>('experiments'))
      .experiments;
  }

  experiment(id: number): Promise<IExperimentItem> {
    return this.get<IExperimentItem>(routePath('experiments', id));
  }

  stopExperiment(id: number, mode: StopMode): Promise<IExperimentItem> {
    return this.post<IExperimentItem>(routePath('experiments', id, 'stop'), {
      mode
    });
  }

  reportUrl(id: number): string {
    return this.url(routePath('experiments', id, 'report'));
  }

  // Models

  async models(): Promise<IVersionInfo[]> {
    return (await this.get<{ models: IVersionInfo[] }>('models')).models;
  }

  modelSchema(name: string, version: number | string): Promise<IInputSchema> {
    return this.get<IInputSchema>(routePath('models', name, version, 'schema'));
  }

  promote(
    name: string,
    version: number | string,
    alias = 'production'
  ): Promise<IPromotion> {
    return this.post<IPromotion>(routePath('models', name, version, 'promote'), {
      alias
    });
  }

  async serve(name: string, version: number | string): Promise<IEndpoint> {
    return (
      await this.post<{ endpoint: IEndpoint }>(
        routePath('models', name, version, 'serve'),
        {}
      )
    ).endpoint;
  }

  // Endpoints

  async endpoints(): Promise<IEndpointItem[]> {
    return (await this.get<{ endpoints: IEndpointItem[] }>('endpoints'))
      .endpoints;
  }

  async stopEndpoint(id: number): Promise<IEndpoint> {
    return (
      await this.post<{ endpoint: IEndpoint }>(
        routePath('endpoints', id, 'stop'),
        {}
      )
    ).endpoint;
  }

  async endpointLog(id: number, tail = 200): Promise<string> {
    return (
      await this.get<{ log: string }>(routePath('endpoints', id, 'log'), {
        tail
      })
    ).log;
  }

  endpointSchema(id: number): Promise<IInputSchema> {
    return this.get<IInputSchema>(routePath('endpoints', id, 'schema'));
  }

  predict(
    id: number,
    rows: { [column: string]: JSONValue }[]
  ): Promise<IEndpointPrediction> {
    return this.post<IEndpointPrediction>(
      routePath('endpoints', id, 'predict'),
      { rows }
    );
  }

  // Jobs

  async jobs(): Promise<IJobItem[]> {
    return (await this.get<{ jobs: IJobItem[] }>('jobs')).jobs;
  }

  async cancelJob(id: number): Promise<IJobItem> {
    return (await this.post<{ job: IJobItem }>(routePath('jobs', id, 'cancel')))
      .job;
  }

  async jobLog(id: number, tail = 200): Promise<string> {
    return (
      await this.get<{ log: string }>(routePath('jobs', id, 'log'), { tail })
    ).log;
  }

  // Notebooks

  notebookParameters(path: string): Promise<INotebookParameters> {
    return this.get<INotebookParameters>('notebooks/parameters', { path });
  }

  async runNotebook(
    path: string,
    parameters: { [name: string]: JSONValue },
    cluster?: string
  ): Promise<IJobItem> {
    const body: { [key: string]: JSONValue } = { path, parameters };
    if (cluster) {
      body.cluster = cluster;
    }
    return (await this.post<{ job: IJobItem }>('notebooks/run', body)).job;
  }

  private _settings: ServerConnection.ISettings | undefined;
  private _workspace: () => string;
}

export namespace WorkbenchClient {
  export interface IOptions {
    /** The server settings (default: the page's). */
    serverSettings?: ServerConnection.ISettings;
    /** The workspace setting, read at every request ('' for the server's). */
    workspace?: () => string;
  }
}
