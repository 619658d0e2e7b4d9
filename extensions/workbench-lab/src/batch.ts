import { Dialog, Notification, showDialog } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { append, h } from './dom';
import { changedParameters, messageOf } from './models';
import type { IWorkbench } from './tokens';
import type { IJobItem, INotebookParameter, JSONValue } from './types';

/** What the batch-job dialog returns. */
export interface IBatchJobRequest {
  /** The text of every parameter field, by parameter name. */
  texts: { [name: string]: string };
  /** The cluster field. */
  cluster: string;
}

/**
 * The body of the "Run notebook as batch job" dialog: one input per
 * parameter (`name` = the parameter, prefilled with its default as written)
 * and a `cluster` input.
 */
export class BatchJobBody extends Widget {
  constructor(
    path: string,
    parameters: INotebookParameter[],
    cluster: string
  ) {
    super();
    this.addClass('jp-WorkbenchPanel-batch');
    this._parameters = parameters;

    const fields = h('div', { class: 'jp-WorkbenchPanel-fields' });
    if (parameters.length === 0) {
      append(
        fields,
        h(
          'p',
          { class: 'jp-WorkbenchPanel-meta' },
          'This notebook has no cell tagged "parameters": it runs as it is.'
        )
      );
    }
    parameters.forEach((parameter, index) => {
      const id = `workbench-batch-parameter-${index}`;
      const input = h('input', {
        id,
        type: 'text',
        name: parameter.name,
        value: parameter.default,
        class: 'jp-WorkbenchPanel-input',
        'data-parameter': parameter.name,
        'data-type': parameter.type,
        'aria-describedby': parameter.help ? `${id}-help` : null
      });
      this._inputs.set(parameter.name, input);
      append(
        fields,
        h(
          'div',
          { class: 'jp-WorkbenchPanel-field', 'data-parameter': parameter.name },
          h(
            'label',
            { for: id, class: 'jp-WorkbenchPanel-label' },
            parameter.name,
            ' ',
            h('span', { class: 'jp-WorkbenchPanel-hint' }, parameter.type)
          ),
          input,
          parameter.help
            ? h('span', { id: `${id}-help`, class: 'jp-WorkbenchPanel-hint' }, parameter.help)
            : null
        )
      );
    });

    this._cluster = h('input', {
      id: 'workbench-batch-cluster',
      type: 'text',
      name: 'cluster',
      value: cluster,
      class: 'jp-WorkbenchPanel-input',
      'data-parameter': '__cluster__',
      placeholder: 'local:2, tcp://host:8786, auto'
    });
    append(
      this.node,
      h('p', { class: 'jp-WorkbenchPanel-meta' }, 'Notebook: ', h('code', {}, path)),
      fields,
      h(
        'div',
        { class: 'jp-WorkbenchPanel-field jp-WorkbenchPanel-clusterField' },
        h('label', { for: 'workbench-batch-cluster', class: 'jp-WorkbenchPanel-label' }, 'cluster'),
        this._cluster
      )
    );
  }

  get parameters(): INotebookParameter[] {
    return this._parameters;
  }

  getValue(): IBatchJobRequest {
    const texts: { [name: string]: string } = {};
    for (const [name, input] of this._inputs) {
      texts[name] = input.value;
    }
    return { texts, cluster: this._cluster.value.trim() };
  }

  private _parameters: INotebookParameter[];
  private _inputs = new Map<string, HTMLInputElement>();
  private _cluster: HTMLInputElement;
}

/**
 * Save the notebook, ask for its parameters and cluster, start it as a batch
 * job and return the job (null when the user cancelled).
 */
export async function runAsBatchJob(
  workbench: IWorkbench,
  notebook: NotebookPanel
): Promise<IJobItem | null> {
  const context = notebook.context;
  await context.ready;
  // The job runs the file on disk: save what the user sees first.
  await context.save();
  const path = context.path;
  const { parameters } = await workbench.client.notebookParameters(path);

  const body = new BatchJobBody(path, parameters, workbench.settings.cluster);
  const result = await showDialog<IBatchJobRequest>({
    title: 'Run notebook as batch job',
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run' })],
    focusNodeSelector: 'input'
  });
  if (!result.button.accept || !result.value) {
    return null;
  }
  const values: { [name: string]: JSONValue } = changedParameters(
    parameters,
    result.value.texts
  );
  try {
    const job = await workbench.client.runNotebook(
      path,
      values,
      result.value.cluster || undefined
    );
    Notification.success(`Job ${job.id} started`, { autoClose: 5000 });
    return job;
  } catch (error) {
    Notification.error(`The batch job did not start: ${messageOf(error)}`, {
      autoClose: false
    });
    return null;
  }
}
