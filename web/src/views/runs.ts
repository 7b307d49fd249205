import { hyperparameterEntries } from '../../../src/domain/hyperparameters.js';
import { parseRunFilter, RunFilterSyntaxError } from '../../../src/domain/run-filter-syntax.js';
import { request } from '../api.js';
import { errorLine, fmt, h } from '../dom.js';
import { RunsDocument, type RunFilter, type RunOrder, type RunsQuery } from '../generated/graphql.js';
import { pathLink } from './path.js';

type RunNode = RunsQuery['runs']['edges'][number]['node'];

const PAGE = 50;

/** Reads the filter box; throws RunFilterSyntaxError with what was expected. */
export function readFilter(text: string): RunFilter | null {
  const terms = parseRunFilter(text);
  return Object.keys(terms).length === 0 ? null : (terms as RunFilter);
}

/** The runs table: filter, sort, page; each run links to its INITIAL → FINAL curves. */
export function runsView(root: HTMLElement): void {
  const filterBox = h('input', {
    id: 'runs-filter',
    type: 'search',
    size: 60,
    placeholder: 'all · name~mlp, arch=mlp, dataset=spiral, tag=demo, hp.seed>=2, hp.optimizer="adam"',
    'aria-label': 'Filter runs',
  });
  const order = h(
    'select',
    { id: 'runs-order', 'aria-label': 'Sort by' },
    h('option', { value: 'CREATED_AT:ASC' }, 'created, oldest first'),
    h('option', { value: 'CREATED_AT:DESC' }, 'created, newest first'),
    h('option', { value: 'NAME:ASC' }, 'name'),
    h('option', { value: 'HYPERPARAMETER:ASC' }, 'hyper-parameter (path below)'),
    h('option', { value: 'REPORTED_METRIC:DESC' }, 'reported metric (path below), highest first'),
    h('option', { value: 'TEST_ACCURACY:DESC' }, 'test accuracy (stored), highest first'),
    h('option', { value: 'TEST_LOSS:ASC' }, 'test loss (stored), lowest first'),
  );
  const orderPath = h('input', {
    id: 'runs-order-path',
    size: 16,
    placeholder: 'e.g. seed',
    'aria-label': 'Sort path',
  });
  const body = h('tbody');
  const status = h('p', { class: 'muted', 'aria-live': 'polite' });
  const more = h('button', { type: 'button', hidden: true }, 'More runs');
  let after: string | null = null;
  let generation = 0;

  const load = async (reset: boolean) => {
    const mine = ++generation;
    let filter: RunFilter | null;
    try {
      filter = readFilter(filterBox.value);
    } catch (error) {
      if (!(error instanceof RunFilterSyntaxError)) throw error;
      status.replaceChildren(errorLine(`Filter: ${error.message}`));
      return;
    }
    const [field, direction] = order.value.split(':') as [RunOrder['field'], RunOrder['direction']];
    const needsPath = field === 'HYPERPARAMETER' || field === 'REPORTED_METRIC';
    const orderBy: RunOrder = { field, direction, ...(needsPath ? { path: orderPath.value.trim() } : {}) };
    if (reset) {
      after = null;
      body.replaceChildren();
    }
    status.textContent = 'Loading…';
    try {
      const { runs } = await request(RunsDocument, { first: PAGE, after, filter, orderBy });
      if (mine !== generation) return;
      body.append(...runs.edges.map(({ node }) => row(node)));
      after = runs.pageInfo.endCursor ?? null;
      more.hidden = !runs.pageInfo.hasNextPage;
      status.textContent = `${body.children.length} run(s)${runs.pageInfo.hasNextPage ? ', more below' : ''}`;
    } catch (error) {
      if (mine === generation) status.replaceChildren(errorLine((error as Error).message));
    }
  };

  more.addEventListener('click', () => void load(false));
  const form = h(
    'form',
    { class: 'toolbar', onsubmit: (event: Event) => (event.preventDefault(), void load(true)) },
    filterBox,
    order,
    orderPath,
    h('button', { type: 'submit' }, 'Apply'),
  );
  root.replaceChildren(
    h('h2', {}, 'Runs'),
    form,
    status,
    h(
      'table',
      { id: 'runs-table', class: 'data' },
      h(
        'thead',
        {},
        h(
          'tr',
          {},
          ...[
            'run',
            'architecture',
            'dataset',
            'tags',
            'hyper-parameters',
            'test accuracy',
            'shape (init → final)',
            'rise',
          ].map((t) => h('th', {}, t)),
        ),
      ),
      body,
    ),
    more,
    h('p', { class: 'muted' }, 'Accuracy and barrier come from stored evaluations; open a run to evaluate its curves.'),
  );
  void load(true);
}

function row(run: RunNode): HTMLTableRowElement {
  const initial = run.checkpoints.find((c) => c.role === 'INITIAL');
  const final = run.checkpoints.find((c) => c.role === 'FINAL');
  const name =
    initial !== undefined && final !== undefined
      ? h('a', { href: pathLink({ run: run.id }) }, run.name)
      : h('span', { title: 'no INITIAL and FINAL checkpoints' }, run.name);
  return h(
    'tr',
    { 'data-run': run.name },
    h('td', {}, name),
    h('td', {}, run.architecture ?? '—'),
    h('td', {}, run.datasetName ?? '—'),
    h('td', {}, run.tags.join(', ')),
    h('td', {}, hyperparameterChips(run.hyperparameters)),
    h('td', { class: 'number' }, fmt(run.testAccuracy)),
    h('td', {}, run.barrier?.shape ?? '—'),
    h('td', { class: 'number' }, fmt(run.barrier?.rise)),
  );
}

/**
 * A run's hyper-parameters as `key=value` chips, one per leaf (nested objects by their dotted path, as the
 * filter's `hp.a.b`). A chip never breaks inside itself; the cell wraps between chips.
 */
function hyperparameterChips(hyperparameters: Record<string, unknown>): HTMLElement {
  const chips = hyperparameterEntries(hyperparameters).map(([path, text]) =>
    h('span', { class: 'chip', title: `${path} = ${text}` }, h('span', { class: 'chip-key' }, path), '=', text),
  );
  return chips.length === 0 ? h('span', { class: 'muted' }, '—') : h('span', { class: 'chips' }, ...chips);
}
