import { JupyterFrontEnd } from '@jupyterlab/application';
import { MainAreaWidget } from '@jupyterlab/apputils';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { append, h, table } from './dom';
import { workbenchIcon } from './icons';
import {
  buildPredictRow,
  endpointModel,
  FormValue,
  formatProbability,
  formatValue,
  messageOf,
  probabilityRows
} from './models';
import { WorkbenchClient } from './request';
import type { IEndpoint, IEndpointPrediction, IInputColumn } from './types';

/**
 * A form built from an endpoint's input schema that sends one row to
 * `POST endpoints/{id}/predict` and shows the answer.
 *
 * Fields: numeric -> `<input type=number step=any>`, categorical with
 * categories -> `<select>`, boolean -> checkbox, else a text input; each has
 * `name` = the column name and a `<label>`.
 */
export class TryItForm extends Widget {
  constructor(options: TryItForm.IOptions) {
    super();
    this._client = options.client;
    this._endpoint = options.endpoint;
    this.addClass('jp-WorkbenchPanel-tryit');
    this.node.dataset.endpoint = String(this._endpoint.id);

    this._form = h('form', {
      class: 'jp-WorkbenchPanel-form',
      'aria-label': `Input row for ${endpointModel(this._endpoint)}`,
      novalidate: true
    });
    this._fields = h('div', { class: 'jp-WorkbenchPanel-fields' }, 'Loading the input schema…');
    this._submit = h(
      'button',
      {
        type: 'submit',
        class: 'jp-WorkbenchPanel-button jp-mod-accept',
        'data-action': 'predict',
        'aria-label': `Send the row to endpoint ${this._endpoint.id}`,
        disabled: true
      },
      'Predict'
    );
    this._error = h('div', {
      class: 'jp-WorkbenchPanel-error',
      role: 'alert',
      hidden: true
    });
    this._answer = h('div', {
      class: 'jp-WorkbenchPanel-answer',
      'aria-live': 'polite',
      hidden: true
    });
    append(
      this._form,
      this._fields,
      h('div', { class: 'jp-WorkbenchPanel-actions' }, this._submit)
    );
    append(
      this.node,
      h(
        'p',
        { class: 'jp-WorkbenchPanel-meta' },
        `${endpointModel(this._endpoint)} at `,
        h('code', {}, this._endpoint.url)
      ),
      this._form,
      this._error,
      this._answer
    );
    this._form.addEventListener('submit', event => {
      event.preventDefault();
      void this.predict();
    });
  }

  /** The schema's columns (empty until loaded). */
  get columns(): IInputColumn[] {
    return this._columns;
  }

  /** Load the endpoint's input schema and build the fields. */
  async load(): Promise<void> {
    this._showError(null);
    try {
      const schema = await this._client.endpointSchema(this._endpoint.id);
      this._columns = schema.columns ?? [];
      this._buildFields();
      this._submit.disabled = false;
    } catch (error) {
      this._fields.textContent = '';
      this._showError(`Could not read the input schema: ${messageOf(error)}`);
    }
  }

  /** The form's values by column name. */
  values(): { [name: string]: FormValue } {
    const values: { [name: string]: FormValue } = {};
    for (const column of this._columns) {
      const field = this._form.elements.namedItem(column.name) as
        | HTMLInputElement
        | HTMLSelectElement
        | null;
      if (!field) {
        continue;
      }
      values[column.name] =
        field instanceof HTMLInputElement && field.type === 'checkbox'
          ? field.checked
          : field.value;
    }
    return values;
  }

  /** Send the row and show the answer (or the refusal). */
  async predict(): Promise<void> {
    const { row, errors } = buildPredictRow(this._columns, this.values());
    if (errors.length > 0) {
      this._showError(errors.join(' '));
      return;
    }
    this._showError(null);
    this._submit.disabled = true;
    try {
      const answer = await this._client.predict(this._endpoint.id, [row]);
      this._showAnswer(answer);
    } catch (error) {
      this._answer.hidden = true;
      this._showError(messageOf(error));
    } finally {
      this._submit.disabled = false;
    }
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (!this._loaded) {
      this._loaded = true;
      void this.load();
    }
  }

  private _buildFields(): void {
    this._fields.textContent = '';
    if (this._columns.length === 0) {
      this._fields.textContent = 'The model takes no input columns.';
      return;
    }
    this._columns.forEach((column, index) => {
      const id = `${this.id || 'workbench-tryit'}-${this._endpoint.id}-field-${index}`;
      const field = makeField(column, id);
      const label = h(
        'label',
        { for: id, class: 'jp-WorkbenchPanel-label' },
        column.name,
        column.required
          ? h('span', { class: 'jp-WorkbenchPanel-required', title: 'required' }, ' *')
          : null
      );
      const hint = h(
        'span',
        { class: 'jp-WorkbenchPanel-hint' },
        `${column.kind} (${column.dtype})`
      );
      const wrapper = h(
        'div',
        {
          class: 'jp-WorkbenchPanel-field',
          'data-column': column.name,
          'data-kind': column.kind
        },
        column.kind === 'boolean' ? field : label,
        column.kind === 'boolean' ? label : field,
        hint
      );
      this._fields.appendChild(wrapper);
    });
  }

  private _showError(message: string | null): void {
    this._error.hidden = message === null;
    this._error.textContent = message ?? '';
  }

  private _showAnswer(answer: IEndpointPrediction): void {
    this._answer.textContent = '';
    const prediction = answer.predictions?.[0];
    const text =
      typeof prediction === 'number' ? formatValue(prediction) : String(prediction);
    append(
      this._answer,
      h(
        'p',
        {},
        'Prediction: ',
        h('strong', { class: 'jp-WorkbenchPanel-prediction' }, text)
      )
    );
    const rows = probabilityRows(answer);
    if (rows.length > 0) {
      this._answer.appendChild(
        table(
          'jp-WorkbenchPanel-table jp-WorkbenchPanel-probabilities',
          ['class', 'probability'],
          rows.map(r => [r.label, formatProbability(r.probability)])
        )
      );
    }
    this._answer.hidden = false;
  }

  private _client: WorkbenchClient;
  private _endpoint: IEndpoint;
  private _columns: IInputColumn[] = [];
  private _form: HTMLFormElement;
  private _fields: HTMLDivElement;
  private _submit: HTMLButtonElement;
  private _error: HTMLDivElement;
  private _answer: HTMLDivElement;
  private _loaded = false;
}

export namespace TryItForm {
  export interface IOptions {
    client: WorkbenchClient;
    endpoint: IEndpoint;
  }
}

/** The input for one column. */
function makeField(column: IInputColumn, id: string): HTMLElement {
  const common = {
    id,
    name: column.name,
    class: 'jp-WorkbenchPanel-input',
    required: column.required && column.kind !== 'boolean',
    'aria-required': column.required ? 'true' : 'false'
  };
  if (column.kind === 'numeric') {
    return h('input', { ...common, type: 'number', step: 'any' });
  }
  if (column.kind === 'boolean') {
    return h('input', { ...common, type: 'checkbox' });
  }
  if (column.kind === 'categorical' && column.categories && column.categories.length > 0) {
    const select = h('select', common);
    if (!column.required) {
      select.appendChild(h('option', { value: '' }, ''));
    }
    for (const category of column.categories) {
      select.appendChild(h('option', { value: String(category) }, String(category)));
    }
    return select;
  }
  return h('input', {
    ...common,
    type: 'text',
    placeholder: column.kind === 'datetime' ? '2024-01-01T00:00:00' : ''
  });
}

const openForms = new Map<number, MainAreaWidget<TryItForm>>();

/** Open (or show again) the Try-it form of an endpoint in the main area. */
export function openTryIt(
  app: JupyterFrontEnd,
  client: WorkbenchClient,
  endpoint: IEndpoint
): MainAreaWidget<TryItForm> {
  let widget = openForms.get(endpoint.id);
  if (!widget || widget.isDisposed) {
    const content = new TryItForm({ client, endpoint });
    widget = new MainAreaWidget({ content });
    widget.id = `workbench-tryit-${endpoint.id}`;
    widget.title.label = `Try it: ${endpointModel(endpoint)}`;
    widget.title.icon = workbenchIcon;
    widget.title.closable = true;
    openForms.set(endpoint.id, widget);
    widget.disposed.connect(() => openForms.delete(endpoint.id));
    app.shell.add(widget, 'main');
  }
  app.shell.activateById(widget.id);
  return widget;
}
