import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { ILauncher } from '@jupyterlab/launcher';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { runAsBatchJob } from './batch';
import { append, h } from './dom';
import { batchJobIcon, workbenchIcon } from './icons';
import { messageOf } from './models';
import type { IWorkbench } from './tokens';
import type { IDatasetEntry } from './types';

export namespace CommandIDs {
  export const newNotebook = 'workbench:new-notebook';
  export const openPanel = 'workbench:open-panel';
  export const runAsJob = 'workbench:run-as-job';
}

/** The palette and launcher category. */
export const CATEGORY = 'AutoML Workbench';

/** The dialog body that picks a dataset (a `<select name="dataset">`). */
class DatasetPicker extends Widget {
  constructor(datasets: IDatasetEntry[]) {
    super();
    this.addClass('jp-WorkbenchPanel-datasetPicker');
    this._select = h('select', {
      id: 'workbench-dataset-picker',
      name: 'dataset',
      class: 'jp-WorkbenchPanel-input',
      'aria-label': 'Dataset'
    });
    for (const d of datasets) {
      const detail = [d.problem_type, d.rows !== null ? `${d.rows} rows` : '']
        .filter(Boolean)
        .join(', ');
      append(
        this._select,
        h('option', { value: d.name }, detail ? `${d.name} (${detail})` : d.name)
      );
    }
    append(
      this.node,
      h('label', { for: 'workbench-dataset-picker', class: 'jp-WorkbenchPanel-label' }, 'Dataset'),
      this._select
    );
  }

  getValue(): string {
    return this._select.value;
  }

  private _select: HTMLSelectElement;
}

/** Register the commands, their palette entries and the launcher tile. */
export function addCommands(
  app: JupyterFrontEnd,
  workbench: IWorkbench,
  tracker: INotebookTracker,
  palette: ICommandPalette | null,
  launcher: ILauncher | null
): void {
  const { commands } = app;

  commands.addCommand(CommandIDs.openPanel, {
    label: 'Open Workbench panel',
    caption: 'Show the AutoML Workbench sidebar',
    icon: args => (args.isPalette ? undefined : workbenchIcon),
    execute: () => {
      app.shell.activateById(workbench.panelId);
    }
  });

  commands.addCommand(CommandIDs.newNotebook, {
    label: 'New AutoML notebook',
    caption: 'A new search notebook for a dataset',
    icon: args => (args.isPalette ? undefined : workbenchIcon),
    execute: async args => {
      try {
        let name = typeof args.dataset === 'string' ? args.dataset : '';
        if (!name) {
          const datasets = await workbench.client.datasets();
          if (datasets.length === 0) {
            await showErrorMessage(
              'No datasets',
              'The workspace has no datasets yet; add one with `workbench datasets add`.'
            );
            return;
          }
          const result = await showDialog<string>({
            title: 'New AutoML notebook',
            body: new DatasetPicker(datasets),
            buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Create' })],
            focusNodeSelector: 'select'
          });
          if (!result.button.accept || !result.value) {
            return;
          }
          name = result.value;
        }
        const path = await workbench.client.newNotebook(name);
        return await commands.execute('docmanager:open', { path });
      } catch (error) {
        await showErrorMessage('Could not create the notebook', messageOf(error));
      }
    }
  });

  /**
   * The notebook to run: the one at `args.path`, else the one the main area
   * shows, else the tracker's current one. The tracker follows focus, which
   * can stay on a notebook restored behind the one just opened.
   */
  const notebookFor = (args: { [key: string]: unknown }): NotebookPanel | null => {
    const path = typeof args.path === 'string' ? args.path : '';
    if (path) {
      return tracker.find(panel => panel.context.path === path) ?? null;
    }
    const shown = app.shell.currentWidget;
    if (shown && tracker.has(shown)) {
      return shown as NotebookPanel;
    }
    return tracker.currentWidget;
  };

  commands.addCommand(CommandIDs.runAsJob, {
    label: 'Run notebook as batch job',
    caption: 'Run the notebook in the background with parameters',
    icon: args => (args.isPalette ? undefined : batchJobIcon),
    isEnabled: args => notebookFor(args) !== null,
    execute: async args => {
      const notebook = notebookFor(args);
      if (!notebook) {
        return;
      }
      try {
        const job = await runAsBatchJob(workbench, notebook);
        if (job) {
          app.shell.activateById(workbench.panelId);
          await workbench.refresh();
        }
      } catch (error) {
        await showErrorMessage('Could not run the notebook as a batch job', messageOf(error));
      }
    }
  });

  if (tracker) {
    // Re-evaluate isEnabled when the current notebook changes.
    tracker.currentChanged.connect(() => {
      commands.notifyCommandChanged(CommandIDs.runAsJob);
    });
  }

  if (palette) {
    for (const command of [
      CommandIDs.newNotebook,
      CommandIDs.openPanel,
      CommandIDs.runAsJob
    ]) {
      palette.addItem({ command, category: CATEGORY, args: { isPalette: true } });
    }
  }

  if (launcher) {
    launcher.add({
      command: CommandIDs.newNotebook,
      category: CATEGORY,
      rank: 0
    });
  }
}
