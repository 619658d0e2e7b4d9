/**
 * @jest-environment node
 */

import { ServerConnection } from '@jupyterlab/services';

import {
  APIError,
  apiUrl,
  requestAPI,
  routePath,
  withQuery,
  WorkbenchClient
} from '../request';

const settings = ServerConnection.makeSettings({
  baseUrl: 'http://localhost:8888/base/',
  wsUrl: 'ws://localhost:8888/base/'
});

/** A minimal fetch Response. */
function reply(status: number, body: unknown, statusText = ''): Response {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return {
    ok: status >= 200 && status < 300,
    status,
    statusText,
    text: async () => text
  } as unknown as Response;
}

/** The APIError a promise rejects with. */
async function refusal(promise: Promise<unknown>): Promise<APIError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(APIError);
    return error as APIError;
  }
  throw new Error('the request did not fail');
}

let makeRequest: jest.SpyInstance;

beforeEach(() => {
  makeRequest = jest.spyOn(ServerConnection, 'makeRequest');
});

afterEach(() => {
  makeRequest.mockRestore();
});

/** The URL and init of the n-th call of makeRequest. */
function call(n = 0): [string, RequestInit] {
  const [url, init] = makeRequest.mock.calls[n];
  return [url as string, init as RequestInit];
}

describe('requestAPI', () => {
  it('calls {baseUrl}/workbench/api/{endPoint} and returns the JSON answer', async () => {
    makeRequest.mockResolvedValue(reply(200, { datasets: [] }));
    const data = await requestAPI<{ datasets: unknown[] }>('datasets', {}, settings);
    expect(data).toEqual({ datasets: [] });
    expect(call()[0]).toBe('http://localhost:8888/base/workbench/api/datasets');
    expect(makeRequest.mock.calls[0][2]).toBe(settings);
  });

  it('keeps the query string verbatim', () => {
    expect(apiUrl('jobs/3/log?tail=200', settings)).toBe(
      'http://localhost:8888/base/workbench/api/jobs/3/log?tail=200'
    );
  });

  it('returns text when the answer is not JSON (the report)', async () => {
    makeRequest.mockResolvedValue(reply(200, '<html>report</html>'));
    await expect(requestAPI('experiments/1/report', {}, settings)).resolves.toBe(
      '<html>report</html>'
    );
  });

  it('throws an APIError with the message and status of a 4xx JSON answer', async () => {
    makeRequest.mockResolvedValue(
      reply(409, { message: 'The contract check failed: column x is missing.' }, 'Conflict')
    );
    const error = await refusal(requestAPI('models/a/1/promote', { method: 'POST' }, settings));
    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(409);
    expect(error.message).toBe('The contract check failed: column x is missing.');
  });

  it('explains a 404 without a JSON message (server extension missing)', async () => {
    makeRequest.mockResolvedValue(reply(404, '<html>Not Found</html>', 'Not Found'));
    const error = await refusal(requestAPI('datasets', {}, settings));
    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(404);
    expect(error.message).toMatch(/server extension/);
  });

  it('names the status of another non-JSON refusal', async () => {
    makeRequest.mockResolvedValue(reply(502, 'Bad gateway', 'Bad Gateway'));
    const error = await refusal(requestAPI('datasets', {}, settings));
    expect(error.message).toBe('The server refused the request (HTTP 502 Bad Gateway).');
  });

  it('turns a network failure into a clear APIError with status 0', async () => {
    makeRequest.mockRejectedValue(new TypeError('Failed to fetch'));
    const error = await refusal(requestAPI('datasets', {}, settings));
    expect(error).toBeInstanceOf(APIError);
    expect(error.status).toBe(0);
    expect(error.message).toBe(
      'Could not reach the Jupyter server (Failed to fetch); check that it is still running.'
    );
  });
});

describe('paths and queries', () => {
  it('encodes each path segment from user data', () => {
    expect(routePath('datasets', 'my data/v2?', 'profile')).toBe(
      'datasets/my%20data%2Fv2%3F/profile'
    );
    expect(routePath('models', '..', 1, 'schema')).toBe('models/%2E%2E/1/schema');
  });

  it('builds query strings, leaving out empty values', () => {
    expect(withQuery('notebooks/parameters', { path: 'a b/nb.ipynb', workspace: '' })).toBe(
      'notebooks/parameters?path=a%20b%2Fnb.ipynb'
    );
    expect(withQuery('datasets', {})).toBe('datasets');
  });
});

describe('WorkbenchClient', () => {
  it('sends workspace= on every request when the setting is not empty', async () => {
    let workspace = '/home/me/ws';
    const client = new WorkbenchClient({ serverSettings: settings, workspace: () => workspace });
    makeRequest.mockResolvedValue(reply(200, { log: 'line' }));
    await client.jobLog(3);
    expect(call(0)[0]).toBe(
      'http://localhost:8888/base/workbench/api/jobs/3/log?tail=200&workspace=%2Fhome%2Fme%2Fws'
    );
    workspace = '';
    await client.jobLog(3, 50);
    expect(call(1)[0]).toBe('http://localhost:8888/base/workbench/api/jobs/3/log?tail=50');
  });

  it('POSTs JSON bodies to encoded routes', async () => {
    const client = new WorkbenchClient({ serverSettings: settings });
    makeRequest.mockResolvedValue(reply(200, { path: 'search-my data.ipynb' }));
    await expect(client.newNotebook('my data')).resolves.toBe('search-my data.ipynb');
    const [url, init] = call();
    expect(url).toBe('http://localhost:8888/base/workbench/api/datasets/my%20data/notebook');
    expect(init.method).toBe('POST');
    expect(JSON.parse(init.body as string)).toEqual({});
  });

  it('promotes with the alias and stops an experiment with its mode', async () => {
    const client = new WorkbenchClient({ serverSettings: settings });
    makeRequest.mockResolvedValue(reply(200, {}));
    await client.promote('penguins', 2);
    await client.stopExperiment(4, 'finish');
    expect(call(0)[0]).toMatch(/workbench\/api\/models\/penguins\/2\/promote$/);
    expect(JSON.parse(call(0)[1].body as string)).toEqual({ alias: 'production' });
    expect(call(1)[0]).toMatch(/workbench\/api\/experiments\/4\/stop$/);
    expect(JSON.parse(call(1)[1].body as string)).toEqual({ mode: 'finish' });
  });

  it('runs a notebook with its parameters and the cluster', async () => {
    const client = new WorkbenchClient({ serverSettings: settings });
    makeRequest.mockResolvedValue(reply(200, { job: { id: 9 } }));
    const job = await client.runNotebook('nb/a.ipynb', { n: 3 }, 'local:2');
    expect(job.id).toBe(9);
    expect(call()[0]).toBe('http://localhost:8888/base/workbench/api/notebooks/run');
    expect(JSON.parse(call()[1].body as string)).toEqual({
      path: 'nb/a.ipynb',
      parameters: { n: 3 },
      cluster: 'local:2'
    });
  });

  it('gives the full report URL, base URL and workspace included', () => {
    const client = new WorkbenchClient({ serverSettings: settings, workspace: () => 'ws' });
    expect(client.reportUrl(5)).toBe(
      'http://localhost:8888/base/workbench/api/experiments/5/report?workspace=ws'
    );
  });
});
