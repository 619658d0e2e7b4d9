import { Widget } from '@lumino/widgets';

import { BatchJobBody } from '../batch';
import { PanelModel } from '../models';
import { WorkbenchPanel } from '../panel';
import { WorkbenchClient } from '../request';
import { TryItForm } from '../tryit';
import { endpoint, experiment, job, version } from './fixtures';

/** A client whose lists come from `data`; other calls are jest mocks. */
function fakeClient(data: { [key: string]: unknown[] }) {
  return {
    datasets: jest.fn(async () => data.datasets ?? []),
    experiments: jest.fn(async () => data.experiments ?? []),
    models: jest.fn(async () => data.models ?? []),
    endpoints: jest.fn(async () => data.endpoints ?? []),
    jobs: jest.fn(async () => data.jobs ?? []),
    stopExperiment: jest.fn(async () => ({})),
    endpointSchema: jest.fn(),
    predict: jest.fn(),
    reportUrl: (id: number) => `http://x/workbench/api/experiments/${id}/report`
  };
}

const fakeApp = () =>
  ({
    commands: { execute: jest.fn() },
    shell: { add: jest.fn(), activateById: jest.fn() }
  }) as any;

function makePanel(data: { [key: string]: unknown[] }) {
  const client = fakeClient(data);
  const model = new PanelModel(3);
  const panel = new WorkbenchPanel({
    app: fakeApp(),
    client: client as unknown as WorkbenchClient,
    model,
    settings: () => ({ workspace: '', cluster: 'local:2', refreshInterval: 3 })
  });
  return { client, model, panel };
}

describe('WorkbenchPanel', () => {
  it('renders five sections with rows, ids and actions', async () => {
    const { model, panel } = makePanel({
      datasets: [
        {
          name: '<b>penguins</b>',
          kind: 'bundled',
          rows: 344,
          columns: 8,
          target: 'species',
          problem_type: 'multiclass'
        }
      ],
      experiments: [experiment()],
      models: [version()],
      endpoints: [endpoint()],
      jobs: [job({ kind: 'notebook', lab_path: 'nb-output-3.ipynb' })]
    });
    await model.refresh(panel.client);
    const sections = Array.from(panel.node.querySelectorAll('section.jp-WorkbenchPanel-section')).map(
      s => (s as HTMLElement).dataset.section
    );
    expect(sections).toEqual(['datasets', 'experiments', 'models', 'endpoints', 'jobs']);

    const dataset = panel.node.querySelector(
      '[data-section="datasets"] li.jp-WorkbenchPanel-item'
    ) as HTMLElement;
    // User data is text, never markup.
    expect(dataset.dataset.id).toBe('<b>penguins</b>');
    expect(dataset.querySelector('b')).toBeNull();
    expect(dataset.textContent).toContain('344 × 8');

    const ids = (section: string) =>
      Array.from(panel.node.querySelectorAll(`[data-section="${section}"] li`)).map(
        li => (li as HTMLElement).dataset.id
      );
    expect(ids('experiments')).toEqual(['1']);
    expect(ids('models')).toEqual(['penguins@1']);
    expect(ids('endpoints')).toEqual(['2']);
    expect(ids('jobs')).toEqual(['3']);

    const actions = (section: string) =>
      Array.from(panel.node.querySelectorAll(`[data-section="${section}"] li button`)).map(
        b => (b as HTMLElement).dataset.action
      );
    expect(actions('datasets')).toEqual(['profile', 'new-notebook']);
    expect(actions('experiments')).toEqual(['report', 'finish', 'cancel']);
    expect(actions('models')).toEqual(['promote', 'serve']);
    expect(actions('endpoints')).toEqual(['try-it', 'copy-curl', 'log', 'stop']);
    expect(actions('jobs')).toEqual(['open-output', 'log', 'cancel']);
    for (const button of Array.from(panel.node.querySelectorAll('button'))) {
      expect(button.getAttribute('aria-label')).toBeTruthy();
    }

    const bar = panel.node.querySelector('progress.jp-WorkbenchPanel-progress') as HTMLProgressElement;
    expect(bar.getAttribute('value')).toBe('4');
    expect(bar.getAttribute('max')).toBe('10');
    expect(panel.node.querySelector('a.jp-WorkbenchPanel-link')?.getAttribute('href')).toBe(
      'http://127.0.0.1:8123/docs'
    );
    panel.dispose();
  });

  it('shows the new status after a refresh and keeps unchanged rows', async () => {
    const data: { [key: string]: unknown[] } = {
      experiments: [experiment()],
      jobs: [job({ id: 8, status: 'finished', duration_s: 5 })]
    };
    const { model, panel } = makePanel(data);
    await model.refresh(panel.client);
    const jobRow = panel.node.querySelector('[data-section="jobs"] li');
    data.experiments = [experiment({}, { status: 'done', job_status: 'finished' })];
    await model.refresh(panel.client);
    const row = panel.node.querySelector('[data-section="experiments"] li') as HTMLElement;
    expect(row.querySelector('.jp-WorkbenchPanel-status')?.textContent).toBe('done');
    expect(Array.from(row.querySelectorAll('button')).map(b => b.dataset.action)).toEqual([
      'report'
    ]);
    expect(panel.node.querySelector('[data-section="jobs"] li')).toBe(jobRow);
    panel.dispose();
  });

  it('says how candidates are scored: the folds, and the sentence on hover', async () => {
    const selection =
      'Valid scores: 4-fold cross-validated over the 275 train and valid rows (out of fold; fold 1 is the valid rows).';
    const { model, panel } = makePanel({
      experiments: [experiment({ cv_folds: 4, selection }), experiment({ id: 2, cv_folds: 1 })]
    });
    await model.refresh(panel.client);
    const metas = Array.from(panel.node.querySelectorAll('[data-section="experiments"] li')).map(
      row => row.querySelector('.jp-WorkbenchPanel-meta') as HTMLElement
    );
    expect(metas[0].textContent).toBe('penguins · accuracy · 4-fold CV');
    expect(metas[0].getAttribute('title')).toBe(selection);
    expect(metas[1].textContent).toBe('penguins · accuracy');
    panel.dispose();
  });

  it('shows the refresh error in a one-line banner', async () => {
    const { client, model, panel } = makePanel({});
    client.jobs.mockRejectedValueOnce(new Error('Workspace /etc is not allowed.'));
    await model.refresh(panel.client);
    const banner = panel.node.querySelector('.jp-WorkbenchPanel-banner') as HTMLElement;
    expect(banner.hidden).toBe(false);
    expect(banner.textContent).toContain('Workspace /etc is not allowed.');
    await model.refresh(panel.client);
    expect(banner.hidden).toBe(true);
    panel.dispose();
  });

  it('collapses a section from its toggle button', () => {
    const { panel } = makePanel({});
    const toggle = panel.node.querySelector(
      '[data-section="models"] button[data-action="toggle"]'
    ) as HTMLButtonElement;
    toggle.click();
    expect(toggle.getAttribute('aria-expanded')).toBe('false');
    expect(
      panel.node.querySelector('[data-section="models"]')?.classList.contains('jp-mod-collapsed')
    ).toBe(true);
    panel.dispose();
  });

  it('finishes an experiment from its button and refreshes', async () => {
    const { client, model, panel } = makePanel({ experiments: [experiment()] });
    await model.refresh(panel.client);
    (panel.node.querySelector('button[data-action="finish"]') as HTMLButtonElement).click();
    await new Promise(resolve => setTimeout(resolve, 0));
    await new Promise(resolve => setTimeout(resolve, 0));
    expect(client.stopExperiment).toHaveBeenCalledWith(1, 'finish');
    expect(client.experiments.mock.calls.length).toBeGreaterThanOrEqual(2);
    panel.dispose();
  });
});

describe('TryItForm', () => {
  const schema = {
    columns: [
      { name: 'bill_length_mm', kind: 'numeric', dtype: 'float64', required: true, categories: null },
      { name: 'island', kind: 'categorical', dtype: 'object', required: false, categories: ['Biscoe', 'Dream'] },
      { name: 'tagged', kind: 'boolean', dtype: 'bool', required: false, categories: null },
      { name: 'sex', kind: 'text', dtype: 'object', required: false, categories: null }
    ]
  };

  async function form() {
    const client = fakeClient({});
    client.endpointSchema.mockResolvedValue(schema);
    const widget = new TryItForm({
      client: client as unknown as WorkbenchClient,
      endpoint: endpoint()
    });
    await widget.load();
    return { client, widget };
  }

  it('builds labelled fields from the schema', async () => {
    const { widget } = await form();
    const field = (name: string) => widget.node.querySelector(`[name="${name}"]`) as HTMLInputElement;
    expect(field('bill_length_mm').type).toBe('number');
    expect(field('bill_length_mm').getAttribute('step')).toBe('any');
    expect(field('bill_length_mm').required).toBe(true);
    expect(field('island').tagName).toBe('SELECT');
    expect(Array.from((field('island') as unknown as HTMLSelectElement).options).map(o => o.value)).toEqual([
      '',
      'Biscoe',
      'Dream'
    ]);
    expect(field('tagged').type).toBe('checkbox');
    expect(field('sex').type).toBe('text');
    const label = widget.node.querySelector(`label[for="${field('sex').id}"]`);
    expect(label?.textContent).toBe('sex');
  });

  it('sends the row and shows the prediction with probabilities', async () => {
    const { client, widget } = await form();
    (widget.node.querySelector('[name="bill_length_mm"]') as HTMLInputElement).value = '39.5';
    (widget.node.querySelector('[name="island"]') as HTMLSelectElement).value = 'Dream';
    client.predict.mockResolvedValue({
      predictions: ['Adelie'],
      probabilities: [[0.8, 0.2]],
      classes: ['Adelie', 'Gentoo']
    });
    await widget.predict();
    expect(client.predict).toHaveBeenCalledWith(2, [
      { bill_length_mm: 39.5, island: 'Dream', tagged: false }
    ]);
    const answer = widget.node.querySelector('.jp-WorkbenchPanel-answer') as HTMLElement;
    expect(answer.hidden).toBe(false);
    expect(answer.textContent).toContain('Adelie');
    expect(answer.querySelectorAll('tbody tr').length).toBe(2);
  });

  it('shows a refusal as text', async () => {
    const { client, widget } = await form();
    (widget.node.querySelector('[name="bill_length_mm"]') as HTMLInputElement).value = '1';
    client.predict.mockRejectedValue(new Error('<i>column</i> bill_length_mm is out of range'));
    await widget.predict();
    const error = widget.node.querySelector('.jp-WorkbenchPanel-error') as HTMLElement;
    expect(error.hidden).toBe(false);
    expect(error.textContent).toBe('<i>column</i> bill_length_mm is out of range');
    expect(error.querySelector('i')).toBeNull();
  });

  it('refuses an empty required field before sending', async () => {
    const { client, widget } = await form();
    await widget.predict();
    expect(client.predict).not.toHaveBeenCalled();
    expect(widget.node.querySelector('.jp-WorkbenchPanel-error')?.textContent).toBe(
      'bill_length_mm is required.'
    );
  });
});

describe('BatchJobBody', () => {
  it('prefills each parameter with its default and the cluster from settings', () => {
    const body = new BatchJobBody(
      'search.ipynb',
      [
        { name: 'dataset', type: 'str', default: '"penguins"', help: 'which dataset' },
        { name: 'n_trials', type: 'int', default: '20', help: '' }
      ],
      'local:2'
    );
    Widget.attach(body, document.body);
    const input = (name: string) =>
      body.node.querySelector(`input[data-parameter="${name}"]`) as HTMLInputElement;
    expect(input('dataset').value).toBe('"penguins"');
    expect(input('__cluster__').value).toBe('local:2');
    expect(body.node.textContent).toContain('which dataset');
    input('n_trials').value = '40';
    expect(body.getValue()).toEqual({
      texts: { dataset: '"penguins"', n_trials: '40' },
      cluster: 'local:2'
    });
    body.dispose();
  });
});
