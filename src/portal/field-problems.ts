import type { FieldProblem } from './api';
import { h } from './dom';

/**
 * Problems a save or publish was refused with, shown next to the fields they name. A field is tagged with the
 * path it edits (`data-path="steps[0].inputs.stage"`); a problem whose path names no shown field is shown at the
 * nearest field or section above it (`steps[0].inputs` for `steps[0].inputs.fields.Title`).
 */
export class FieldProblems {
  private problems: FieldProblem[] = [];

  set(problems: FieldProblem[]): void {
    this.problems = problems;
  }

  clear(): void {
    this.problems = [];
  }

  get all(): readonly FieldProblem[] {
    return this.problems;
  }

  /** Problems at or under `prefix` (a step's problems: `steps[2]`). */
  under(prefix: string): FieldProblem[] {
    return this.problems.filter((p) => p.path === prefix || p.path.startsWith(`${prefix}.`) || p.path.startsWith(`${prefix}[`));
  }

  /**
   * Marks every tagged control in `root` whose path has problems (aria-invalid, aria-describedby, a message after it),
   * and returns the problems no tagged element took.
   */
  attach(root: HTMLElement): FieldProblem[] {
    const tagged = [...root.querySelectorAll<HTMLElement>('[data-path]')];
    const paths = new Set(tagged.map((el) => el.dataset.path!));
    const unplaced: FieldProblem[] = [];
    const byPath = new Map<string, FieldProblem[]>();
    for (const p of this.problems) {
      const at = nearest(p.path, paths);
      if (at === undefined) unplaced.push(p);
      else byPath.set(at, [...(byPath.get(at) ?? []), p]);
    }
    for (const [path, problems] of byPath) {
      const el = tagged.find((x) => x.dataset.path === path)!;
      const id = `problem-${path.replace(/[^A-Za-z0-9]+/g, '-')}`;
      const message = h(
        'p',
        { className: 'field-error', id },
        ...problems.map((p, i) => [
          i ? h('br') : null,
          `⚠ ${p.path === path ? '' : `${p.path.slice(path.length).replace(/^\./, '')}: `}${p.message}`,
        ]),
      );
      el.setAttribute('aria-invalid', 'true');
      el.setAttribute('aria-describedby', [el.getAttribute('aria-describedby'), id].filter(Boolean).join(' '));
      el.insertAdjacentElement('afterend', message);
    }
    return unplaced;
  }
}

function nearest(path: string, paths: Set<string>): string | undefined {
  let p = path;
  for (;;) {
    if (paths.has(p)) return p;
    const cut = Math.max(p.lastIndexOf('.'), p.lastIndexOf('['));
    if (cut <= 0) return paths.has(p) ? p : undefined;
    p = p.slice(0, cut);
  }
}
