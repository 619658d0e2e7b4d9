import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Clipboard,
  Dialog,
  IFrame,
  MainAreaWidget,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { Message } from '@lumino/messaging';
import { Widget } from '@lumino/widgets';

import { actionButton, append, h, table } from './dom';
import { workbenchIcon } from './icons';
import {
  curlCommand,
  endpointModel,
  endpointActions,
  experimentActions,
  experimentStatus,
  formatDuration,
  formatMs,
  formatScore,
  formatTime,
  IWorkbenchSettings,
  jobActions,
  jobDuration,
  latencyP50,
  messageOf,
  modelRef,
  PanelModel,
  progressView,
  safeHttpUrl,
  SectionName,
  SECTIONS,
  trialsText
} from './models';
import { APIError, WorkbenchClient } from './request';
import { openTryIt } from './tryit';
import type {
  IDatasetEntry,
  IEndpointItem,
  IExperimentItem,
  IJobItem,
  IPromotion,
  IVersionInfo
} from './types';

/** The sidebar panel's widget id (also its layout-restorer name). */
export const PANEL_ID = 'workbench-lab-panel';

const SECTION_TITLES: { [name in SectionName]: string } = {
  datasets: 'Datasets',
  experiments: 'Experiments',
  models: 'Models',
  endpoints: 'Endpoints',
  jobs: 'Jobs'
};

const EMPTY_TEXT: { [name in SectionName]: string } = {
  datasets: 'No datasets.',
  experiments: 'No experiments yet.',
  models: 'No registered models yet.',
  endpoints: 'No endpoints.',
  jobs: 'No jobs yet.'
};

/**
 * The "AutoML Workbench" sidebar: datasets, experiments, models, endpoints
 * and jobs, refreshed every `refreshInterval` seconds while visible.
 *
 * Rows are rebuilt from the model on every change, but a row whose markup did
 * not change keeps its DOM node, so focus survives a refresh. Clicks are
 * handled once, on the panel, from the `data-action` of the button and the
 * `data-section`/`data-id` around it.
 */
export class WorkbenchPanel extends Widget {
  constructor(options: WorkbenchPanel.IOptions) {
    super();
    this._app = options.app;
    this._client = options.client;
    this._model = options.model;
    this._settings = options.settings;
    this._ready = options.ready ?? Promise.resolve();

    this.id = PANEL_ID;
    this.title.icon = workbenchIcon;
    this.title.caption = 'AutoML Workbench';
    this.addClass('jp-WorkbenchPanel');

    const refresh = actionButton('refresh', 'Refresh', 'Refresh the lists', {
      className: 'jp-WorkbenchPanel-refresh'
    });
    this._bannerText = h('span', { class: 'jp-WorkbenchPanel-bannerText' });
    this._banner = h(
      'div',
      { class: 'jp-WorkbenchPanel-banner', role: 'alert', hidden: true },
      this._bannerText,
      actionButton('dismiss', '×', 'Dismiss the error', {
        className: 'jp-WorkbenchPanel-dismiss'
      })
    );
    append(
      this.node,
      h(
        'header',
        { class: 'jp-WorkbenchPanel-header' },
        h('h2', { class: 'jp-WorkbenchPanel-title' }, 'AutoML Workbench'),
        refresh
      ),
      this._banner
    );

    for (const name of SECTIONS) {
      const listId = `${PANEL_ID}-${name}-list`;
      const count = h('span', { class: 'jp-WorkbenchPanel-count' });
      const toggle = h(
        'button',
        {
          type: 'button',
          class: 'jp-WorkbenchPanel-sectionToggle',
          'data-action': 'toggle',
          'aria-expanded': 'true',
          'aria-controls': listId,
          'aria-label': `Show or hide ${SECTION_TITLES[name]}`
        },
        h('span', { class: 'jp-WorkbenchPanel-caret', 'aria-hidden': 'true' }),
        SECTION_TITLES[name],
        ' ',
        count
      );
      const list = h('ul', { class: 'jp-WorkbenchPanel-list', id: listId });
      const empty = h('p', { class: 'jp-WorkbenchPanel-empty' }, 'Loading…');
      const section = h(
        'section',
        {
          class: 'jp-WorkbenchPanel-section',
          'data-section': name,
          'aria-label': SECTION_TITLES[name]
        },
        h('h3', { class: 'jp-WorkbenchPanel-sectionHeader' }, toggle),
        h('div', { class: 'jp-WorkbenchPanel-sectionBody' }, list, empty)
      );
      this.node.appendChild(section);
      this._sections.set(name, { section, toggle, list, empty, count });
    }

    this._disconnect = this._model.onChange(() => this._render());
    this.node.addEventListener('click', this);
    this._render();
  }

  /** The REST client. */
  get client(): WorkbenchClient {
    return this._client;
  }

  /** Refresh now and plan the next refresh. */
  async refresh(): Promise<void> {
    // The first request waits for the settings (the workspace query).
    await this._ready;
    await this._model.refresh(this._client);
    this._schedule();
  }

  /** The settings changed: refresh with them now. */
  settingsChanged(): void {
    this._model.backoff.interval = this._settings().refreshInterval;
    if (this.isVisible) {
      void this.refresh();
    }
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._stop();
    this._disconnect();
    this.node.removeEventListener('click', this);
    super.dispose();
  }

  handleEvent(event: Event): void {
    if (event.type !== 'click') {
      return;
    }
    const target = event.target as HTMLElement | null;
    const button = target?.closest('button[data-action]') as
      | HTMLButtonElement
      | null;
    if (!button || button.disabled || !this.node.contains(button)) {
      return;
    }
    const action = button.dataset.action ?? '';
    const section = button.closest('section[data-section]') as HTMLElement | null;
    const item = button.closest('li[data-id]') as HTMLElement | null;
    event.preventDefault();
    void this._dispatch(
      action,
      (section?.dataset.section ?? '') as SectionName | '',
      item?.dataset.id ?? null
    );
  }

  protected onAfterShow(msg: Message): void {
    super.onAfterShow(msg);
    void this.refresh();
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    if (this.isVisible) {
      void this.refresh();
    }
  }

  protected onBeforeHide(msg: Message): void {
    super.onBeforeHide(msg);
    this._stop();
  }

  protected onBeforeDetach(msg: Message): void {
    this._stop();
    super.onBeforeDetach(msg);
  }

  // ------------------------------------------------------------- polling

  private _schedule(): void {
    this._stop();
    if (this.isDisposed || !this.isVisible) {
      return;
    }
    this._timer = window.setTimeout(() => {
      this._timer = null;
      if (document.hidden) {
        // A background browser tab: look again later without a request.
        this._schedule();
        return;
      }
      void this.refresh();
    }, this._model.backoff.delay * 1000);
  }

  private _stop(): void {
    if (this._timer !== null) {
      window.clearTimeout(this._timer);
      this._timer = null;
    }
  }

  // ------------------------------------------------------------ rendering

  private _render(): void {
    const banner = this._model.banner;
    this._banner.hidden = banner === null;
    this._bannerText.textContent = banner ?? '';
    this._banner.dataset.kind = this._model.actionError ? 'action' : 'refresh';

    const model = this._model;
    this._renderSection(
      'datasets',
      model.datasets.map(d => [d.name, this._datasetRow(d)])
    );
    this._renderSection(
      'experiments',
      model.experiments.map(e => [String(e.id), this._experimentRow(e)])
    );
    this._renderSection(
      'models',
      model.models.map(m => [modelRef(m), this._modelRow(m)])
    );
    this._renderSection(
      'endpoints',
      model.endpoints.map(e => [String(e.id), this._endpointRow(e)])
    );
    this._renderSection(
      'jobs',
      model.jobs.map(j => [String(j.id), this._jobRow(j)])
    );
  }

  /** Put `rows` in the section's list, keeping unchanged rows' nodes. */
  private _renderSection(name: SectionName, rows: [string, HTMLLIElement][]) {
    const parts = this._sections.get(name)!;
    parts.count.textContent = this._model.loaded ? `(${rows.length})` : '';
    parts.empty.textContent = this._model.loaded ? EMPTY_TEXT[name] : 'Loading…';
    parts.empty.hidden = rows.length > 0;

    const existing = new Map<string, HTMLLIElement>();
    for (const li of Array.from(parts.list.children) as HTMLLIElement[]) {
      existing.set(li.dataset.id ?? '', li);
    }
    let previous: Element | null = null;
    for (const [id, fresh] of rows) {
      fresh.dataset.id = id;
      const old = existing.get(id);
      existing.delete(id);
      let node: HTMLLIElement = fresh;
      if (old && old.outerHTML === fresh.outerHTML) {
        node = old;
      } else if (old) {
        const focused = old.contains(document.activeElement)
          ? (document.activeElement as HTMLElement).dataset.action
          : undefined;
        old.replaceWith(fresh);
        if (focused) {
          (
            fresh.querySelector(`[data-action="${focused}"]`) as HTMLElement | null
          )?.focus();
        }
      }
      const expected: Element | null = previous
        ? previous.nextElementSibling
        : parts.list.firstElementChild;
      if (expected !== node) {
        parts.list.insertBefore(node, expected);
      }
      previous = node;
    }
    for (const li of existing.values()) {
      li.remove();
    }
  }

  private _datasetRow(d: IDatasetEntry): HTMLLIElement {
    const shape =
      d.rows !== null && d.columns !== null ? `${d.rows} × ${d.columns}` : '';
    return h(
      'li',
      { class: 'jp-WorkbenchPanel-item' },
      h(
        'div',
        { class: 'jp-WorkbenchPanel-itemHeader' },
        h('span', { class: 'jp-WorkbenchPanel-name' }, d.name),
        h('span', { class: 'jp-WorkbenchPanel-badge', 'data-kind': d.kind }, d.kind)
      ),
      h(
        'div',
        { class: 'jp-WorkbenchPanel-meta' },
        [
          shape,
          d.target ? `target ${d.target}` : '',
          d.problem_type ?? ''
        ]
          .filter(Boolean)
          .join(' · ')
      ),
      h(
        'div',
        { class: 'jp-WorkbenchPanel-actions' },
        actionButton('profile', 'Profile', `Profile of dataset ${d.name}`),
        actionButton(
          'new-notebook',
          'New notebook',
          `New search notebook for dataset ${d.name}`
        )
      )
    );
  }

  private _experimentRow(e: IExperimentItem): HTMLLIElement {
    const status = experimentStatus(e);
    const progress = e.progress;
    const view = progressView(progress);
    const bar = view
      ? h('progress', {
          class: 'jp-WorkbenchPanel-progress',
          value: view.value,
          max: view.max,
          'data-unit': view.unit,
          'aria-label': `Progress of experiment ${e.id}`
        })
      : null;
    const best =
      progress && progress.best_score !== null
        ? `best ${formatScore(progress.best_score)} ${progress.metric || e.metric}${
            progress.best_name ? ` (${progress.best_name})` : ''
          }`
        : '';
    const buttons = experimentActions(e).map(action => {
      switch (action) {
        case 'report':
          return actionButton('report', 'Report', `Open the report of experiment ${e.id}`);
        case 'finish':
          return actionButton(
            'finish',
            'Finish',
            `Finish experiment ${e.id}: stop after the running trials and keep the results`,
            { disabled: this._model.isBusy(`stop:${e.id}`) }
          );
        default:
          return actionButton(
            'cancel',
            'Cancel',
            `Cancel the search of experiment ${e.id}`,
            { disabled: this._model.isBusy(`stop:${e.id}`) }
          );
      }
    });
    return h(
      'li',
      { class: 'jp-WorkbenchPanel-item', 'data-status': status },
      h(
        'div',
        { class: 'jp-WorkbenchPanel-itemHeader' },
        h('span', { class: 'jp-WorkbenchPanel-name' }, e.name),
        h('span', { class: 'jp-WorkbenchPanel-id' }, `#${e.id}`),
        statusBadge(status, progress?.job_status ?? e.status)
      ),
      h(
        'div',
        { class: 'jp-WorkbenchPanel-meta', title: e.selection ?? null },
        `${e.dataset} · ${e.metric}`,
        e.cv_folds && e.cv_folds > 1 ? ` · ${e.cv_folds}-fold CV` : ''
      ),
      bar,
      h(
        'div',
        { class: 'jp-WorkbenchPanel-meta' },
        h('span', { class: 'jp-WorkbenchPanel-trials' }, trialsText(progress)),
        view && view.unit === 'seconds'
          ? ` · ${formatDuration(view.value)} of ${formatDuration(view.max)}`
          : ''
      ),
      best ? h('div', { class: 'jp-WorkbenchPanel-best' }, best) : null,
      h('div', { class: 'jp-WorkbenchPanel-actions' }, ...buttons)
    );
  }

  private _modelRow(m: IVersionInfo): HTMLLIElement {
    const ref = modelRef(m);
    const metrics = m.metrics ?? {};
    const p50 = latencyP50(m);
    const serving = this._model.isBusy(`serve:${ref}`);
    const promoting = this._model.isBusy(`promote:${ref}`);
    return h(
      'li',
      { class: 'jp-WorkbenchPanel-item' },
      h(
        'div',
        { class: 'jp-WorkbenchPanel-itemHeader' },
        h('span', { class: 'jp-WorkbenchPanel-name' }, ref),
        ...(m.aliases ?? []).map(alias =>
          h('span', { class: 'jp-WorkbenchPanel-badge jp-WorkbenchPanel-alias', 'data-alias': alias }, alias)
        )
      ),
      h(
        'div',
        { class: 'jp-WorkbenchPanel-meta' },
        `${metrics.metric ?? 'score'}: valid ${formatScore(metrics.valid_score)} · test ${formatScore(metrics.test_score)}`
      ),
      p50 !== null
        ? h('div', { class: 'jp-WorkbenchPanel-meta' }, `latency p50 ${formatMs(p50)} (1 row)`)
        : null,
      h(
        'div',
        { class: 'jp-WorkbenchPanel-actions' },
        actionButton(
          'promote',
          promoting ? 'Promoting…' : 'Promote',
          `Promote ${ref} to production`,
          { disabled: promoting }
        ),
        actionButton('serve', serving ? 'Serving…' : 'Serve', `Serve ${ref} on an endpoint`, {
          disabled: serving
        })
      )
    );
  }

  private _endpointRow(e: IEndpointItem): HTMLLIElement {
    const docs = safeHttpUrl(e.url);
    const metrics = e.metrics
      ? `${plural(e.metrics.requests, 'request')} · ${plural(e.metrics.errors, 'error')}`
      : '';
    const busy = this._model.isBusy(`endpoint:${e.id}`);
    const buttons = endpointActions(e).map(action => {
      switch (action) {
        case 'try-it':
          return actionButton('try-it', 'Try it', `Try endpoint ${e.id} with a form`);
        case 'copy-curl':
          return actionButton('copy-curl', 'Copy curl', `Copy a curl call of endpoint ${e.id}`);
        case 'log':
          return actionButton('log', 'Log', `Show the log of endpoint ${e.id}`);
        default:
          return actionButton('stop', busy ? 'Stopping…' : 'Stop', `Stop endpoint ${e.id}`, {
            disabled: busy
          });
      }
    });
    return h(
      'li',
      { class: 'jp-WorkbenchPanel-item', 'data-status': e.status },
      h(
        'div',
        { class: 'jp-WorkbenchPanel-itemHeader' },
        h('span', { class: 'jp-WorkbenchPanel-name jp-WorkbenchPanel-url' }, e.url),
        statusBadge(e.status, e.status)
      ),
      h(
        'div',
        { class: 'jp-WorkbenchPanel-meta' },
        `#${e.id} · ${endpointModel(e)}`,
        metrics ? ` · ${metrics}` : ''
      ),
      docs
        ? h(
            'a',
            {
              class: 'jp-WorkbenchPanel-link',
              href: `${docs.replace(/\/+$/, '')}/docs`,
              target: '_blank',
              rel: 'noopener noreferrer',
              'data-action': 'docs'
            },
            'API docs'
          )
        : null,
      h('div', { class: 'jp-WorkbenchPanel-actions' }, ...buttons)
    );
  }

  private _jobRow(j: IJobItem): HTMLLIElement {
    const busy = this._model.isBusy(`job:${j.id}`);
    const buttons = jobActions(j).map(action => {
      switch (action) {
        case 'open-output':
          return actionButton('open-output', 'Open output', `Open the output notebook of job ${j.id}`, {
            title: j.lab_path ?? undefined
          });
        case 'log':
          return actionButton('log', 'Log', `Show the log of job ${j.id}`);
        default:
          return actionButton('cancel', busy ? 'Cancelling…' : 'Cancel', `Cancel job ${j.id}`, {
            disabled: busy
          });
      }
    });
    return h(
      'li',
      { class: 'jp-WorkbenchPanel-item', 'data-status': j.status },
      h(
        'div',
        { class: 'jp-WorkbenchPanel-itemHeader' },
        h('span', { class: 'jp-WorkbenchPanel-id' }, `#${j.id}`),
        h('span', { class: 'jp-WorkbenchPanel-badge', 'data-kind': j.kind }, j.kind),
        statusBadge(j.status, j.status)
      ),
      h('div', { class: 'jp-WorkbenchPanel-name' }, j.title),
      h(
        'div',
        { class: 'jp-WorkbenchPanel-meta' },
        `started ${formatTime(j.started_at ?? j.created_at)} · ${formatDuration(jobDuration(j))}`
      ),
      j.error ? h('div', { class: 'jp-WorkbenchPanel-jobError' }, j.error) : null,
      h('div', { class: 'jp-WorkbenchPanel-actions' }, ...buttons)
    );
  }

  // -------------------------------------------------------------- actions

  private async _dispatch(
    action: string,
    section: SectionName | '',
    id: string | null
  ): Promise<void> {
    if (action === 'refresh') {
      this._model.setActionError(null);
      return this.refresh();
    }
    if (action === 'dismiss') {
      return this._model.setActionError(null);
    }
    if (action === 'toggle' && section) {
      return this._toggle(section);
    }
    if (id === null) {
      return;
    }
    try {
      switch (section) {
        case 'datasets':
          return await this._datasetAction(action, id);
        case 'experiments':
          return await this._experimentAction(action, Number(id));
        case 'models':
          return await this._modelAction(action, id);
        case 'endpoints':
          return await this._endpointAction(action, Number(id));
        case 'jobs':
          return await this._jobAction(action, Number(id));
      }
    } catch (error) {
      this._model.setActionError(messageOf(error));
    }
  }

  private _toggle(name: SectionName): void {
    const parts = this._sections.get(name)!;
    const collapsed = !parts.section.classList.contains('jp-mod-collapsed');
    parts.section.classList.toggle('jp-mod-collapsed', collapsed);
    parts.section.dataset.collapsed = String(collapsed);
    parts.toggle.setAttribute('aria-expanded', String(!collapsed));
  }

  private async _afterAction(): Promise<void> {
    this._model.setActionError(null);
    await this.refresh();
  }

  private async _datasetAction(action: string, name: string): Promise<void> {
    if (action === 'profile') {
      const profile = await this._client.profile(name);
      const body = new Widget({
        node: h(
          'div',
          { class: 'jp-WorkbenchPanel-profile' },
          h(
            'p',
            {},
            `${profile.rows} rows × ${profile.columns} columns`,
            profile.target ? ` · target ${profile.target}` : '',
            profile.problem_type ? ` · ${profile.problem_type}` : '',
            profile.metric ? ` · ${profile.metric}` : ''
          ),
          table(
            'jp-WorkbenchPanel-table',
            ['column', 'kind', 'missing', 'unique'],
            (profile.column_profiles ?? []).map(c => [
              c.name,
              c.kind,
              `${(100 * (c.missing_share ?? 0)).toFixed(1)}%`,
              c.n_unique
            ])
          )
        )
      });
      await showDialog({
        title: `Profile: ${name}`,
        body,
        buttons: [Dialog.okButton({ label: 'Close' })]
      });
    } else if (action === 'new-notebook') {
      const path = await this._client.newNotebook(name);
      await this._app.commands.execute('docmanager:open', { path });
    }
  }

  private async _experimentAction(action: string, id: number): Promise<void> {
    if (action === 'report') {
      this._openReport(id);
      return;
    }
    if (action !== 'finish' && action !== 'cancel') {
      return;
    }
    if (action === 'cancel') {
      const answer = await showDialog({
        title: `Cancel experiment ${id}?`,
        body: 'The running trials are stopped and the search ends; finished trials are kept.',
        buttons: [
          Dialog.cancelButton({ label: 'Keep running' }),
          Dialog.warnButton({ label: 'Cancel search' })
        ]
      });
      if (!answer.button.accept) {
        return;
      }
    }
    const key = `stop:${id}`;
    this._model.setBusy(key, true);
    try {
      await this._client.stopExperiment(id, action);
    } finally {
      this._model.setBusy(key, false);
    }
    await this._afterAction();
  }

  private _openReport(id: number): void {
    let widget = this._reports.get(id);
    const url = this._client.reportUrl(id);
    if (!widget || widget.isDisposed) {
      const content = new IFrame({ sandbox: ['allow-scripts'] });
      content.url = url;
      content.addClass('jp-WorkbenchPanel-report');
      widget = new MainAreaWidget({ content });
      widget.id = `workbench-report-${id}`;
      widget.title.label = `Report: experiment ${id}`;
      widget.title.icon = workbenchIcon;
      widget.title.closable = true;
      this._reports.set(id, widget);
      widget.disposed.connect(() => this._reports.delete(id));
      this._app.shell.add(widget, 'main');
    } else {
      // Reload: the report changes while the search runs.
      widget.content.url = '';
      widget.content.url = url;
    }
    this._app.shell.activateById(widget.id);
  }

  private async _modelAction(action: string, ref: string): Promise<void> {
    const model = this._model.models.find(m => modelRef(m) === ref);
    if (!model) {
      return;
    }
    if (action === 'promote') {
      const key = `promote:${ref}`;
      this._model.setBusy(key, true);
      let promotion: IPromotion | null = null;
      let refusal: string | null = null;
      try {
        promotion = await this._client.promote(model.name, model.version, 'production');
      } catch (error) {
        if (error instanceof APIError && error.status === 409) {
          refusal = error.message;
        } else {
          throw error;
        }
      } finally {
        this._model.setBusy(key, false);
      }
      void this._afterAction();
      await showDialog({
        title: refusal ? `${ref} was not promoted` : `${ref} is now production`,
        body: new Widget({ node: promotionBody(promotion, refusal) }),
        buttons: [Dialog.okButton({ label: 'Close' })]
      });
    } else if (action === 'serve') {
      const key = `serve:${ref}`;
      this._model.setBusy(key, true);
      try {
        const endpoint = await this._client.serve(model.name, model.version);
        Notification.success(`${ref} is served at ${endpoint.url}`, {
          autoClose: 5000
        });
      } finally {
        this._model.setBusy(key, false);
      }
      await this._afterAction();
    }
  }

  private async _endpointAction(action: string, id: number): Promise<void> {
    const endpoint = this._model.endpoints.find(e => e.id === id);
    if (!endpoint) {
      return;
    }
    switch (action) {
      case 'try-it':
        openTryIt(this._app, this._client, endpoint);
        return;
      case 'copy-curl': {
        const schema = await this._client.endpointSchema(id);
        Clipboard.copyToSystem(curlCommand(endpoint.url, schema.columns));
        Notification.info(`A curl call of endpoint ${id} is on the clipboard.`, {
          autoClose: 3000
        });
        return;
      }
      case 'log':
        await showLog(`Log of endpoint ${id}`, await this._client.endpointLog(id, 200));
        return;
      case 'stop': {
        const key = `endpoint:${id}`;
        this._model.setBusy(key, true);
        try {
          await this._client.stopEndpoint(id);
        } finally {
          this._model.setBusy(key, false);
        }
        await this._afterAction();
        return;
      }
    }
  }

  private async _jobAction(action: string, id: number): Promise<void> {
    const job = this._model.jobs.find(j => j.id === id);
    if (!job) {
      return;
    }
    switch (action) {
      case 'open-output':
        if (job.lab_path) {
          await this._app.commands.execute('docmanager:open', { path: job.lab_path });
        }
        return;
      case 'log':
        await showLog(`Log of job ${id}`, await this._client.jobLog(id, 200));
        return;
      case 'cancel': {
        const answer = await showDialog({
          title: `Cancel job ${id}?`,
          body: job.title,
          buttons: [
            Dialog.cancelButton({ label: 'Keep running' }),
            Dialog.warnButton({ label: 'Cancel job' })
          ]
        });
        if (!answer.button.accept) {
          return;
        }
        const key = `job:${id}`;
        this._model.setBusy(key, true);
        try {
          await this._client.cancelJob(id);
        } finally {
          this._model.setBusy(key, false);
        }
        await this._afterAction();
        return;
      }
    }
  }

  private _app: JupyterFrontEnd;
  private _client: WorkbenchClient;
  private _model: PanelModel;
  private _settings: () => IWorkbenchSettings;
  private _ready: Promise<unknown>;
  private _banner: HTMLDivElement;
  private _bannerText: HTMLSpanElement;
  private _sections = new Map<SectionName, Private.ISectionParts>();
  private _timer: number | null = null;
  private _disconnect: () => void;
  private _reports = new Map<number, MainAreaWidget<IFrame>>();
}

export namespace WorkbenchPanel {
  export interface IOptions {
    app: JupyterFrontEnd;
    client: WorkbenchClient;
    model: PanelModel;
    /** The current settings. */
    settings: () => IWorkbenchSettings;
    /** Resolves once the settings are loaded (the first refresh waits). */
    ready?: Promise<unknown>;
  }
}

/** A status badge; `state` picks its colour (data-state). */
function statusBadge(text: string, state: string | null): HTMLSpanElement {
  return h(
    'span',
    {
      class: 'jp-WorkbenchPanel-badge jp-WorkbenchPanel-status',
      'data-state': state ?? ''
    },
    text
  );
}

/** The body of the promotion dialog. */
function promotionBody(promotion: IPromotion | null, refusal: string | null): HTMLElement {
  if (refusal !== null || !promotion) {
    return h('div', { class: 'jp-WorkbenchPanel-promotion', 'data-passed': 'false' }, h('p', { class: 'jp-WorkbenchPanel-error' }, refusal ?? ''));
  }
  const contract = promotion.contract;
  const node = h('div', {
    class: 'jp-WorkbenchPanel-promotion',
    'data-passed': contract ? String(contract.passed) : 'none'
  });
  append(
    node,
    h('p', {}, `${modelRef(promotion.version)} now has the alias "${promotion.alias}".`)
  );
  if (!contract) {
    append(node, h('p', {}, 'No contract check ran (no earlier version held the alias).'));
  } else if (contract.passed) {
    append(node, h('p', { class: 'jp-WorkbenchPanel-success' }, 'Contract check passed.'));
  } else {
    append(
      node,
      h('p', { class: 'jp-WorkbenchPanel-error' }, 'Contract check mismatches:'),
      h(
        'ul',
        {},
        ...(contract.mismatches ?? []).map(m =>
          h('li', {}, typeof m === 'string' ? m : JSON.stringify(m))
        )
      )
    );
  }
  return node;
}

/** A dialog with a log in a `<pre>`. */
async function showLog(title: string, log: string): Promise<void> {
  await showDialog({
    title,
    body: new Widget({
      node: h('pre', { class: 'jp-WorkbenchPanel-log' }, log || '(empty)')
    }),
    buttons: [Dialog.okButton({ label: 'Close' })]
  });
}

namespace Private {
  export interface ISectionParts {
    section: HTMLElement;
    toggle: HTMLButtonElement;
    list: HTMLUListElement;
    empty: HTMLParagraphElement;
    count: HTMLSpanElement;
  }
}

/** "1 request", "2 requests". */
function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
