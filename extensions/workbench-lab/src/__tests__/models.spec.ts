import {
  Backoff,
  backoffDelay,
  buildPredictRow,
  changedParameters,
  convertParameter,
  curlCommand,
  endpointModel,
  endpointActions,
  experimentActions,
  experimentStatus,
  formatDuration,
  formatMs,
  formatProbability,
  formatScore,
  formatValue,
  IWorkbenchSource,
  jobActions,
  jobDuration,
  PanelModel,
  probabilityRows,
  progressView,
  readSettings,
  safeHttpUrl,
  stripQuotes,
  trialsText
} from '../models';
import type { IInputColumn, INotebookParameter } from '../types';
import { endpoint, experiment, job, progress, version } from './fixtures';

describe('search progress', () => {
  it('counts finished trials out of the trial target', () => {
    const view = progressView(progress({ done: 4, target: 10 }));
    expect(view).toEqual({ value: 4, max: 10, fraction: 0.4, unit: 'trials' });
    expect(trialsText(progress({ done: 4, target: 10 }))).toBe('4/10 trials');
  });

  it('never goes past the target (earlier runs count in done)', () => {
    expect(progressView(progress({ done: 25, target: 10 }))?.fraction).toBe(1);
  });

  it('uses elapsed seconds out of the time limit for a time-only budget', () => {
    const p = progress({ done: 7, target: null, elapsed_s: 45, time_limit_s: 60 });
    expect(progressView(p)).toEqual({ value: 45, max: 60, fraction: 0.75, unit: 'seconds' });
    expect(trialsText(p)).toBe('7 trials');
  });

  it('has no bar without a search or a budget', () => {
    expect(progressView(null)).toBeNull();
    expect(progressView(progress({ target: null, time_limit_s: null }))).toBeNull();
    expect(trialsText(null)).toBe('no search yet');
  });
});

describe('which buttons a row shows', () => {
  it('shows finish and cancel only while an experiment search runs', () => {
    expect(experimentActions(experiment({}, { job_status: 'running' }))).toEqual([
      'report',
      'finish',
      'cancel'
    ]);
    expect(experimentActions(experiment({}, { job_status: 'starting' }))).toEqual([
      'report',
      'finish',
      'cancel'
    ]);
    for (const status of ['finished', 'stopped', 'cancelled', 'failed', null]) {
      expect(experimentActions(experiment({}, { job_status: status }))).toEqual(['report']);
    }
    expect(experimentActions(experiment({}, null))).toEqual(['report']);
  });

  it('hides finish once a stop was asked and both once a cancel was', () => {
    const finishing = experiment({}, { job_status: 'running', stop_requested: 'finish' });
    expect(experimentActions(finishing)).toEqual(['report', 'cancel']);
    expect(experimentStatus(finishing)).toBe('searching (finishing)');
    const cancelling = experiment({}, { job_status: 'running', stop_requested: 'cancel' });
    expect(experimentActions(cancelling)).toEqual(['report']);
    expect(experimentStatus(cancelling)).toBe('searching (cancelling)');
  });

  it('shows the search status, else the experiment status', () => {
    expect(experimentStatus(experiment({}, { status: 'done', job_status: 'finished' }))).toBe(
      'done'
    );
    expect(experimentStatus(experiment({ status: 'created' }, null))).toBe('created');
    const wrapping = { status: 'finished', shown_status: 'finished, wrapping up', job_status: 'running' };
    expect(experimentStatus(experiment({}, wrapping))).toBe('finished, wrapping up');
  });

  it('shows cancel for running jobs and open-output for notebook jobs with a lab path', () => {
    expect(jobActions(job({ status: 'running' }))).toEqual(['log', 'cancel']);
    expect(jobActions(job({ status: 'finished' }))).toEqual(['log']);
    expect(
      jobActions(job({ kind: 'notebook', status: 'starting', lab_path: 'nb-output-3.ipynb' }))
    ).toEqual(['open-output', 'log', 'cancel']);
    expect(jobActions(job({ kind: 'notebook', status: 'failed', lab_path: null }))).toEqual([
      'log'
    ]);
  });

  it('offers try-it and curl only for ready endpoints', () => {
    expect(endpointActions(endpoint({ status: 'ready' }))).toEqual([
      'try-it',
      'copy-curl',
      'log',
      'stop'
    ]);
    expect(endpointActions(endpoint({ status: 'starting' }))).toEqual(['log', 'stop']);
    expect(endpointActions(endpoint({ status: 'stopped' }))).toEqual(['log']);
  });
});

describe('back-off', () => {
  it('doubles the interval after each failure, up to 60 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6].map(n => backoffDelay(3, n))).toEqual([
      3, 6, 12, 24, 48, 60, 60
    ]);
    expect(backoffDelay(90, 2)).toBe(90);
    expect(backoffDelay(0.2, 0)).toBe(1);
  });

  it('resets on success', () => {
    const backoff = new Backoff(5);
    expect(backoff.delay).toBe(5);
    expect(backoff.failure()).toBe(10);
    expect(backoff.failure()).toBe(20);
    expect(backoff.failures).toBe(2);
    expect(backoff.success()).toBe(5);
  });
});

describe('PanelModel', () => {
  function source(over: Partial<IWorkbenchSource> = {}): IWorkbenchSource {
    return {
      datasets: async () => [],
      experiments: async () => [experiment()],
      models: async () => [version()],
      endpoints: async () => [endpoint()],
      jobs: async () => [job()],
      ...over
    };
  }

  it('reads every list and notifies', async () => {
    const model = new PanelModel(3);
    const listener = jest.fn();
    model.onChange(listener);
    await model.refresh(source());
    expect(model.loaded).toBe(true);
    expect(model.experiments.map(e => e.id)).toEqual([1]);
    expect(model.error).toBeNull();
    expect(listener).toHaveBeenCalled();
  });

  it('keeps the last lists, shows the error and backs off when a route fails', async () => {
    const model = new PanelModel(3);
    await model.refresh(source());
    await model.refresh(
      source({
        jobs: async () => {
          throw new Error('Workspace /x is not an allowed folder.');
        }
      })
    );
    expect(model.error).toBe('Workspace /x is not an allowed folder.');
    expect(model.banner).toBe('Workspace /x is not an allowed folder.');
    expect(model.jobs.map(j => j.id)).toEqual([3]);
    expect(model.backoff.delay).toBe(6);
    await model.refresh(source());
    expect(model.error).toBeNull();
    expect(model.backoff.delay).toBe(3);
  });

  it('runs once more when a refresh is asked during one', async () => {
    const model = new PanelModel(3);
    let calls = 0;
    const counting = source({
      experiments: async () => {
        calls += 1;
        return [experiment({}, { job_status: calls === 1 ? 'running' : 'finished' })];
      }
    });
    const first = model.refresh(counting);
    const second = model.refresh(counting);
    await Promise.all([first, second]);
    expect(calls).toBe(2);
    expect(model.experiments[0].progress?.job_status).toBe('finished');
  });

  it('tracks busy actions and action errors', () => {
    const model = new PanelModel();
    model.setBusy('serve:penguins@1', true);
    expect(model.isBusy('serve:penguins@1')).toBe(true);
    model.setBusy('serve:penguins@1', false);
    expect(model.isBusy('serve:penguins@1')).toBe(false);
    model.error = 'refresh failed';
    model.setActionError('serve failed');
    expect(model.banner).toBe('serve failed');
    model.setActionError(null);
    expect(model.banner).toBe('refresh failed');
  });
});

describe('settings', () => {
  it('fills defaults and keeps the interval at least 1 s', () => {
    expect(readSettings({})).toEqual({ workspace: '', cluster: 'local:2', refreshInterval: 3 });
    expect(readSettings({ workspace: ' /ws ', cluster: 'auto', refreshInterval: 0.1 })).toEqual({
      workspace: '/ws',
      cluster: 'auto',
      refreshInterval: 1
    });
  });
});

describe('Try-it row', () => {
  const columns: IInputColumn[] = [
    { name: 'bill_length_mm', kind: 'numeric', dtype: 'float64', required: true, categories: null },
    { name: 'body_mass_g', kind: 'numeric', dtype: 'float64', required: false, categories: null },
    {
      name: 'island',
      kind: 'categorical',
      dtype: 'object',
      required: false,
      categories: ['Biscoe', 'Dream']
    },
    { name: 'tagged', kind: 'boolean', dtype: 'bool', required: false, categories: null },
    { name: 'note', kind: 'text', dtype: 'object', required: false, categories: null }
  ];

  it('parses numbers, keeps text and drops empty optional fields', () => {
    const { row, errors } = buildPredictRow(columns, {
      bill_length_mm: ' 39.1 ',
      body_mass_g: '',
      island: 'Dream',
      tagged: true,
      note: ''
    });
    expect(errors).toEqual([]);
    expect(row).toEqual({ bill_length_mm: 39.1, island: 'Dream', tagged: true });
  });

  it('reports empty required fields and non-numbers', () => {
    expect(buildPredictRow(columns, { bill_length_mm: '' }).errors).toEqual([
      'bill_length_mm is required.'
    ]);
    expect(buildPredictRow(columns, { bill_length_mm: 'abc' }).errors).toEqual([
      'bill_length_mm takes a number, not "abc".'
    ]);
  });

  it('lists class probabilities, most likely first', () => {
    expect(
      probabilityRows({
        predictions: ['Adelie'],
        probabilities: [[0.7, 0.1, 0.2]],
        classes: ['Adelie', 'Chinstrap', 'Gentoo']
      })
    ).toEqual([
      { label: 'Adelie', probability: 0.7 },
      { label: 'Gentoo', probability: 0.2 },
      { label: 'Chinstrap', probability: 0.1 }
    ]);
    expect(probabilityRows({ predictions: [3.2], probabilities: null, classes: null })).toEqual(
      []
    );
  });

  it('builds a shell-safe curl call from the schema', () => {
    const command = curlCommand('http://127.0.0.1:8123/', [
      columns[0],
      { ...columns[2], categories: ["O'Hare"] },
      columns[3]
    ]);
    expect(command).toBe(
      `curl -s -X POST 'http://127.0.0.1:8123/predict' -H 'Content-Type: application/json' ` +
        `-d '[{"bill_length_mm":0,"island":"O'\\''Hare","tagged":false}]'`
    );
  });
});

describe('batch-job parameters', () => {
  const p = (name: string, type: string, def: string): INotebookParameter => ({
    name,
    type,
    default: def,
    help: ''
  });

  it('converts numbers, flags and quoted text', () => {
    expect(convertParameter(p('n', 'int', '3'), ' 5 ')).toBe(5);
    expect(convertParameter(p('x', 'float', '0.1'), '2.5e-1')).toBe(0.25);
    expect(convertParameter(p('n', 'int', '3'), 'many')).toBe('many');
    expect(convertParameter(p('f', 'bool', 'True'), 'False')).toBe(false);
    expect(convertParameter(p('f', 'bool', 'False'), 'true')).toBe(true);
    expect(convertParameter(p('d', 'str', '"penguins"'), '"wine"')).toBe('wine');
    expect(convertParameter(p('d', 'str', '"penguins"'), "'wine'")).toBe('wine');
    expect(convertParameter(p('d', 'str', '"penguins"'), 'wine')).toBe('wine');
    expect(convertParameter(p('c', 'None', 'None'), 'None')).toBeNull();
    expect(convertParameter(p('l', 'list', '[]'), '["a", 1]')).toEqual(['a', 1]);
    expect(stripQuotes('"a')).toBe('"a');
  });

  it('sends only the parameters the user changed', () => {
    const parameters = [
      p('dataset', 'str', '"penguins"'),
      p('n_trials', 'int', '20'),
      p('gpu', 'bool', 'False')
    ];
    expect(
      changedParameters(parameters, { dataset: '"penguins"', n_trials: '40', gpu: 'False ' })
    ).toEqual({ n_trials: 40 });
    expect(changedParameters(parameters, { dataset: '"wine"' })).toEqual({ dataset: 'wine' });
  });
});

describe('formatting', () => {
  it('formats scores, durations and job durations', () => {
    expect(formatScore(0.912345)).toBe('0.9123');
    expect(formatScore(0.971)).toBe('0.9710'); // beside 0.9964: the same decimals
    expect(formatScore(1)).toBe('1.0000');
    expect(formatScore(null)).toBe('–');
    expect(formatValue(1234.5678)).toBe('1235');
    expect(formatProbability(0.000001085)).toBe('<0.0001');
    expect(formatProbability(0)).toBe('0.0000');
    expect(formatProbability(1)).toBe('1.0000');
    expect(formatMs(1.128)).toBe('1.13 ms');
    expect(formatDuration(42)).toBe('42 s');
    expect(formatDuration(185)).toBe('3 min 5 s');
    expect(formatDuration(7800)).toBe('2 h 10 min');
    expect(jobDuration(job({ duration_s: 12 }))).toBe(12);
    expect(jobDuration(job({ duration_s: null, started_at: 100 }), 130)).toBe(30);
  });

  it('names the served model once', () => {
    expect(endpointModel({ model: 'penguins@1', version: 1 })).toBe('penguins@1');
    expect(endpointModel({ model: 'penguins', version: 2 })).toBe('penguins@2');
  });

  it('links only http(s) URLs', () => {
    expect(safeHttpUrl('http://127.0.0.1:8123')).toBe('http://127.0.0.1:8123');
    expect(safeHttpUrl('javascript:alert(1)')).toBeNull();
  });
});
