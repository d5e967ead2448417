import { parseFuncIgnore } from '../support/funcignore';

// The matching rules azd applies to .funcignore (go-gitignore, see test/support/funcignore.ts). The deploy test
// relies on them to build a package exactly as azd would, and to apply azd's remoteBuild/node_modules check.
describe('.funcignore matching as azd does it', () => {
  const ignore = parseFuncIgnore('\uFEFFnode_modules/\n# comment\nscripts/\n*.md\n/local.settings*.json\ntest/**/fixtures\n!keep.md\n');

  it('matches a directory-only pattern against directories at any depth, not files', () => {
    expect(ignore.ignores('node_modules', true)).toBe(true); // azd's "does .funcignore exclude node_modules" question
    expect(ignore.ignores('src/node_modules', true)).toBe(true);
    expect(ignore.ignores('node_modules', false)).toBe(false);
    expect(ignore.ignores('scripts', true)).toBe(true);
  });

  it('matches name patterns by basename, anchored ones from the root, ** across folders, and lets the last pattern decide', () => {
    expect(ignore.ignores('README.md', false)).toBe(true);
    expect(ignore.ignores('docs/guide.md', false)).toBe(true);
    expect(ignore.ignores('keep.md', false)).toBe(false);
    expect(ignore.ignores('local.settings.sample.json', false)).toBe(true);
    expect(ignore.ignores('config/local.settings.json', false)).toBe(false);
    expect(ignore.ignores('test/a/b/fixtures', true)).toBe(true);
    expect(ignore.ignores('host.json', false)).toBe(false);
  });
});
