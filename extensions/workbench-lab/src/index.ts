import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { ILauncher } from '@jupyterlab/launcher';
import {
  INotebookModel,
  INotebookTracker,
  NotebookPanel
} from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';
import { ToolbarButton } from '@jupyterlab/ui-components';
import { IDisposable } from '@lumino/disposable';

import { addCommands, CommandIDs } from './commands';
import { batchJobIcon } from './icons';
import {
  DEFAULT_SETTINGS,
  IWorkbenchSettings,
  PanelModel,
  readSettings
} from './models';
import { PANEL_ID, WorkbenchPanel } from './panel';
import { WorkbenchClient } from './request';
import { IWorkbench } from './tokens';

const PANEL_PLUGIN_ID = 'workbench-lab:panel';

/**
 * The "AutoML Workbench" sidebar, restored after a reload; its settings
 * (workspace, cluster, refreshInterval) are shared through `IWorkbench`.
 */
const panelPlugin: JupyterFrontEndPlugin<IWorkbench> = {
  id: PANEL_PLUGIN_ID,
  description: 'The AutoML Workbench sidebar: datasets, experiments, models, endpoints and jobs.',
  autoStart: true,
  provides: IWorkbench,
  optional: [ILayoutRestorer, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null
  ): IWorkbench => {
    let settings: IWorkbenchSettings = { ...DEFAULT_SETTINGS };
    const client = new WorkbenchClient({
      serverSettings: app.serviceManager.serverSettings,
      workspace: () => settings.workspace
    });
    const model = new PanelModel(settings.refreshInterval);
    let settingsLoaded: () => void = () => undefined;
    const ready = settingRegistry
      ? new Promise<void>(resolve => (settingsLoaded = resolve))
      : Promise.resolve();
    const panel = new WorkbenchPanel({
      app,
      client,
      model,
      settings: () => settings,
      ready
    });
    app.shell.add(panel, 'left', { rank: 600 });
    if (restorer) {
      restorer.add(panel, PANEL_ID);
    }

    if (settingRegistry) {
      settingRegistry
        .load(PANEL_PLUGIN_ID)
        .then(loaded => {
          const update = () => {
            settings = readSettings(loaded.composite as { [key: string]: unknown });
            panel.settingsChanged();
          };
          loaded.changed.connect(update);
          update();
        })
        .catch(reason => {
          console.error(`Failed to load the settings of ${PANEL_PLUGIN_ID}.`, reason);
        })
        .then(() => settingsLoaded());
    }

    return {
      client,
      model,
      panelId: PANEL_ID,
      get settings() {
        return settings;
      },
      refresh: () => panel.refresh()
    };
  }
};

/**
 * The commands: new AutoML notebook (palette + launcher tile), open the
 * panel, run the current notebook as a batch job.
 */
const commandsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'workbench-lab:commands',
  description: 'AutoML Workbench commands, palette entries and launcher tile.',
  autoStart: true,
  requires: [IWorkbench, INotebookTracker],
  optional: [ICommandPalette, ILauncher],
  activate: (
    app: JupyterFrontEnd,
    workbench: IWorkbench,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    launcher: ILauncher | null
  ) => {
    addCommands(app, workbench, tracker, palette, launcher);
  }
};

/** A "Run as batch job" button in every notebook's toolbar. */
class RunAsJobButtonExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(private _app: JupyterFrontEnd) {}

  createNew(
    panel: NotebookPanel,
    context: DocumentRegistry.IContext<INotebookModel>
  ): IDisposable {
    const button = new ToolbarButton({
      className: 'jp-WorkbenchPanel-runAsJob',
      icon: batchJobIcon,
      tooltip: 'Run as batch job',
      onClick: () => {
        void this._app.commands.execute(CommandIDs.runAsJob, {
          path: context.path
        });
      }
    });
    button.node.dataset.action = 'run-as-job';
    panel.toolbar.insertItem(10, 'workbenchRunAsJob', button);
    return button;
  }
}

const notebookButtonPlugin: JupyterFrontEndPlugin<void> = {
  id: 'workbench-lab:notebook-button',
  description: 'A notebook toolbar button that runs the notebook as a batch job.',
  autoStart: true,
  requires: [IWorkbench],
  activate: (app: JupyterFrontEnd) => {
    app.docRegistry.addWidgetExtension(
      'Notebook',
      new RunAsJobButtonExtension(app)
    );
  }
};

export default [panelPlugin, commandsPlugin, notebookButtonPlugin];
