import { LabIcon } from '@jupyterlab/ui-components';

/** The panel's icon: three rising bars and a spark. */
export const workbenchIcon = new LabIcon({
  name: 'workbench-lab:workbench',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <rect x="3" y="13" width="4" height="8" rx="1"/>
    <rect x="10" y="9" width="4" height="12" rx="1"/>
    <rect x="17" y="5" width="4" height="16" rx="1"/>
    <path d="M6 3l1 2.2L9.2 6 7 7 6 9.2 5 7 2.8 6 5 5.2z"/>
  </g>
</svg>`
});

/** The "run as batch job" icon: a play mark over stacked pages. */
export const batchJobIcon = new LabIcon({
  name: 'workbench-lab:batch-job',
  svgstr: `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <g class="jp-icon3" fill="#616161">
    <path d="M6 2h10a2 2 0 0 1 2 2v1H8a2 2 0 0 0-2 2v11H5a1 1 0 0 1-1-1V4a2 2 0 0 1 2-2z"/>
    <path fill-rule="evenodd" d="M10 7h9a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2h-9a2 2 0 0 1-2-2V9a2 2 0 0 1 2-2zm2.5 4v7l5.5-3.5z"/>
  </g>
</svg>`
});
