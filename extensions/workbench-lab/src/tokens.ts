import { Token } from '@lumino/coreutils';

import type { IWorkbenchSettings, PanelModel } from './models';
import type { WorkbenchClient } from './request';

/**
 * What the panel plugin shares with the commands and the notebook button:
 * the REST client (with the workspace setting applied), the current
 * settings and a way to refresh and show the panel.
 */
export interface IWorkbench {
  readonly client: WorkbenchClient;
  readonly model: PanelModel;
  /** The current settings of `workbench-lab:panel`. */
  readonly settings: IWorkbenchSettings;
  /** The sidebar panel's widget id. */
  readonly panelId: string;
  /** Refresh the panel's lists now. */
  refresh(): Promise<void>;
}

export const IWorkbench = new Token<IWorkbench>(
  'workbench-lab:IWorkbench',
  'The AutoML Workbench REST client, settings and panel.'
);
