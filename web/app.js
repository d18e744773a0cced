// occusearch page: five views over the JSON API of the same server, routed by the URL fragment
// (#/search?q=…&lang=de) so every view is a shareable link. DOM built with textContent only:
// labels from the data are never parsed as HTML.
'use strict';

const PAGE_SIZE = 20;
const KIND_NAMES = {
  occupation: 'Occupation', skill: 'Skill', 'skill-group': 'Skill group', 'isco-group': 'ISCO group',
  profile: 'Profile', concept: 'Concept', material: 'Material',
};
const state = { languages: ['en'], lang: 'en', searchToken: 0 };

// ---------- small helpers ----------

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === 'class') node.className = value;
    else if (key.startsWith('on')) node.addEventListener(key.slice(2), value);
    else if (key === 'text') node.textContent = value;
    else node.setAttribute(key, value === true ? '' : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function announce(text) {
  const status = document.getElementById('status');
  status.textContent = '';
  setTimeout(() => { status.textContent = text; }, 30);
}

async function api(path, options) {
  const init = { method: 'GET', headers: {} };
  if (options && options.body) {
    init.method = 'POST';
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(options.body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (e) {
    throw new Error('The server cannot be reached. Is occusearch still running?');
  }
  let data = null;
  try { data = await response.json(); } catch (e) { /* handled below */ }
  if (!response.ok) {
    const message = data && data.error && data.error.message;
    const hint = response.status === 503 ? ' Try again in a moment.' : '';
    throw new Error((message ? `${message[0].toUpperCase()}${message.slice(1)}.` : `The server answered ${response.status}.`) + hint);
  }
  if (data === null) throw new Error('The server answered without JSON.');
  return data;
}

function errorBox(error) {
  return el('p', { class: 'error', role: 'alert' }, `Something went wrong: ${error.message}`);
}

function loading(text) { return el('p', { class: 'loading' }, text || 'Loading…'); }

function langName(code) {
  try {
    const names = new Intl.DisplayNames([code, 'en'], { type: 'language' });
    const name = names.of(code);
    return name && name !== code ? `${name[0].toUpperCase()}${name.slice(1)} (${code})` : code;
  } catch (e) { return code; }
}

function route() {
  const hash = location.hash.replace(/^#\/?/, '');
  const [page, query] = hash.split('?');
  return { page: page || 'search', params: new URLSearchParams(query || '') };
}

function href(page, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params || {})) {
    if (Array.isArray(value)) value.forEach((v) => query.append(key, v));
    else if (value !== undefined && value !== null && value !== '') query.set(key, value);
  }
  if (!query.has('lang')) query.set('lang', state.lang);
  return `#/${page}?${query.toString()}`;
}

function go(page, params) {
  const target = href(page, params);
  if (location.hash !== target) history.pushState(null, '', target);
  render();
}

function conceptLink(item) {
  return el('a', { href: href('concept', { id: item.id }), lang: item.lang || undefined }, item.label);
}

function badge(kind) {
  return el('span', { class: `badge ${kind}` }, KIND_NAMES[kind] || kind);
}

function percent(value) { return `${Math.round(100 * value)} %`; }

function meter(label, value, extraClass) {
  const share = Math.max(0, Math.min(1, value || 0));
  // Width through the CSSOM: the page's content security policy forbids inline style attributes.
  const fill = el('span', {});
  fill.style.width = `${(100 * share).toFixed(1)}%`;
  return [
    el('span', {}, label),
    el('span', { class: `meter ${extraClass || ''}`, role: 'img', 'aria-label': `${label}: ${percent(share)}` }, fill),
    el('span', { class: 'gain' }, percent(share)),
  ];
}

function setPage(title, ...content) {
  const main = document.getElementById('main');
  main.replaceChildren(el('h1', {}, title), ...content);
  document.title = `${title} · occusearch`;
}

function debounce(fn, ms) {
  let timer;
  return (...args) => { clearTimeout(timer); timer = setTimeout(() => fn(...args), ms); };
}

// ---------- chips (skills typed in any language) ----------

// A list of skills as removable chips; after a request each chip says how it was resolved, and
// picking a suggestion for an unresolved one replaces it and calls `onReplace` (to ask again).
function chipInput(id, labelText, initial, onReplace) {
  const values = [...initial];
  const list = el('ul', { class: 'chips', 'aria-label': 'Your entries' });
  const input = el('input', { type: 'text', id, autocomplete: 'off', placeholder: 'e.g. Datenanalyse, cuire le pain, SQL' });
  const resolution = new Map();
  function draw() {
    list.replaceChildren(...values.map((value, i) => {
      const how = resolution.get(value);
      const chip = el('li', { class: `chip ${how ? how.state : ''}` },
        el('span', { class: 'text' }, how && how.display ? how.display : value,
          el('button', { type: 'button', class: 'remove', 'aria-label': `Remove ${value}`,
            onclick: () => { values.splice(i, 1); draw(); } }, '×')));
      if (how) chip.append(how.node);
      return chip;
    }));
  }
  function add(text) {
    const value = text.trim();
    if (value && !values.includes(value)) { values.push(value); draw(); }
  }
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' || event.key === ',') {
      event.preventDefault();
      for (const part of input.value.split(/[,;\n]/)) add(part);
      input.value = '';
    }
  });
  input.addEventListener('paste', (event) => {
    const text = (event.clipboardData || window.clipboardData).getData('text');
    if (/[,;\n]/.test(text)) {
      event.preventDefault();
      for (const part of text.split(/[,;\n]/)) add(part);
    }
  });
  const addButton = el('button', { type: 'button', class: 'secondary', onclick: () => {
    for (const part of input.value.split(/[,;\n]/)) add(part);
    input.value = '';
    input.focus();
  } }, 'Add');
  function replace(old, value) {
    const at = values.indexOf(old);
    if (at >= 0) values[at] = value;
    draw();
    onReplace();
  }
  draw();
  return {
    node: el('div', { class: 'field' },
      el('label', { for: id }, labelText),
      el('div', { class: 'row' }, el('div', { class: 'grow' }, input), addButton),
      el('span', { class: 'meta' }, 'Press Enter after each skill, or paste a list separated by commas.'),
      list),
    values: () => { if (input.value.trim()) { add(input.value); input.value = ''; } return [...values]; },
    // Marks each chip with how the server resolved it (resolved / unresolved with suggestions).
    showResolution(resolved, unresolved) {
      resolution.clear();
      for (const r of resolved) {
        if (resolution.has(r.input)) continue;
        const confidence = r.via === 'id' ? 'by id' : `confidence ${Math.round(100 * r.confidence)} %`;
        resolution.set(r.input, {
          state: 'resolved',
          display: r.via === 'id' ? r.label : undefined,
          node: el('span', { class: 'how' }, '→ ', conceptLink(r), ` (${r.lang}, ${r.source}, ${confidence})`),
        });
      }
      for (const u of unresolved) {
        const suggestions = u.suggestions.map((s) => el('button', {
          type: 'button', class: 'link', lang: s.lang,
          onclick: () => replace(u.input, s.id),
        }, s.label));
        resolution.set(u.input, {
          state: 'unresolved',
          node: el('span', { class: 'how' }, 'not recognised as a skill',
            suggestions.length ? [': did you mean ', ...suggestions.flatMap((b, i) => (i ? [', ', b] : [b])), '?'] : ''),
        });
      }
      draw();
    },
  };
}

// ---------- search ----------

function searchPage(params) {
  const q = params.get('q') || '';
  const offset = Math.max(0, parseInt(params.get('offset') || '0', 10) || 0);
  const filters = {
    kind: params.get('kind') || '', source: params.get('source') || '',
    isco: params.get('isco') || '', eqf: params.get('eqf') || '',
  };
  const input = el('input', {
    type: 'search', id: 'q', name: 'q', value: q, autocomplete: 'off', spellcheck: 'false',
    role: 'combobox', 'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': 'suggestions',
    placeholder: 'A job title or a skill, in any language',
  });
  const listbox = el('ul', { id: 'suggestions', role: 'listbox', 'aria-label': 'Suggestions', hidden: true });
  let options = [];
  let active = -1;
  function closeSuggestions() {
    listbox.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  }
  function highlight(index) {
    active = index;
    options.forEach((option, i) => option.setAttribute('aria-selected', i === index ? 'true' : 'false'));
    if (index >= 0) input.setAttribute('aria-activedescendant', options[index].id);
    else input.removeAttribute('aria-activedescendant');
  }
  const suggest = debounce(async () => {
    const text = input.value.trim();
    const token = ++state.searchToken;
    if (text.length < 2) { closeSuggestions(); return; }
    try {
      const data = await api(`/suggest?${new URLSearchParams({ q: text, lang: state.lang, limit: '8' })}`);
      if (token !== state.searchToken) return;
      options = data.suggestions.map((s, i) => el('li', {
        id: `suggestion-${i}`, role: 'option', 'aria-selected': 'false', lang: s.lang,
        onmousedown: (event) => { event.preventDefault(); go('concept', { id: s.id }); },
      }, badge(s.kind), el('span', {}, s.label)));
      listbox.replaceChildren(...options);
      listbox.hidden = options.length === 0;
      input.setAttribute('aria-expanded', options.length ? 'true' : 'false');
      active = -1;
      if (options.length) announce(`${options.length} suggestions; use the arrow keys to choose.`);
    } catch (e) { closeSuggestions(); }
  }, 150);
  input.addEventListener('input', suggest);
  input.addEventListener('blur', () => setTimeout(closeSuggestions, 100));
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown' && options.length) {
      event.preventDefault();
      listbox.hidden = false;
      input.setAttribute('aria-expanded', 'true');
      highlight((active + 1) % options.length);
    } else if (event.key === 'ArrowUp' && options.length) {
      event.preventDefault();
      highlight(active <= 0 ? options.length - 1 : active - 1);
    } else if (event.key === 'Escape') {
      closeSuggestions();
    } else if (event.key === 'Enter' && active >= 0 && !listbox.hidden) {
      event.preventDefault();
      options[active].dispatchEvent(new MouseEvent('mousedown'));
    }
  });
  const form = el('form', { role: 'search', class: 'row', onsubmit: (event) => {
    event.preventDefault();
    closeSuggestions();
    go('search', { q: input.value.trim(), ...filters, offset: '' });
  } },
  el('div', { class: 'combo' }, el('label', { for: 'q', class: 'visually-hidden' }, 'Search'), input, listbox),
  el('button', { type: 'submit' }, 'Search'));
  const results = el('section', { 'aria-label': 'Results' });
  setPage('Search occupations, skills, profiles and materials',
    el('p', { class: 'lead' }, 'Type a job title or a skill in any of the languages. Results show labels in the content language you choose.'),
    form, results);
  if (!q) {
    results.append(el('p', { class: 'empty' }, 'Try “Softwareentwickler”, “infirmière”, “data analysis” or “remote sensing”.'));
    input.focus();
    return;
  }
  results.append(loading('Searching…'));
  const query = new URLSearchParams({ q, lang: state.lang, limit: String(PAGE_SIZE), offset: String(offset) });
  for (const [key, value] of Object.entries(filters)) if (value) query.set(key, value);
  api(`/search?${query}`).then((data) => {
    results.replaceChildren(searchResults(data, q, filters, offset));
    announce(`${data.total} results for ${q}.`);
  }).catch((e) => results.replaceChildren(errorBox(e)));
}

function facetGroup(legend, key, counts, filters, q, format) {
  const entries = Object.entries(counts || {}).sort((a, b) => b[1] - a[1]);
  const selected = filters[key];
  if (!entries.length && !selected) return null;
  const boxes = entries.map(([value, count]) => {
    const id = `facet-${key}-${value}`;
    return el('label', { for: id },
      el('input', { type: 'checkbox', id, checked: selected === value,
        onchange: (event) => go('search', { q, ...filters, [key]: event.target.checked ? value : '', offset: '' }) }),
      format ? format(value) : value, el('span', { class: 'count' }, count));
  });
  if (selected && !entries.some(([value]) => value === selected)) {
    boxes.push(el('button', { type: 'button', class: 'link', onclick: () => go('search', { q, ...filters, [key]: '', offset: '' }) }, `Remove “${selected}”`));
  }
  return el('fieldset', {}, el('legend', {}, legend), ...boxes);
}

function why(hit) {
  const parts = [];
  if (hit.matched_label) parts.push(`matched “${hit.matched_label}” (${hit.matched_lang})`);
  if (hit.text_rank) parts.push(`text #${hit.text_rank}`);
  if (hit.vector_rank && hit.vector) parts.push(`meaning #${hit.vector_rank} (${hit.vector.similarity.toFixed(2)} to “${hit.vector.label}”, ${hit.vector.lang})`);
  return parts.length ? `Why: ${parts.join(' · ')}` : '';
}

function searchResults(data, q, filters, offset) {
  const facets = data.facets || {};
  const kindFilter = filters.kind;
  const aside = el('aside', { class: 'facets', 'aria-label': 'Filters' },
    facetGroup('Kind', 'kind', facets.kind, filters, q, (v) => KIND_NAMES[v] || v),
    facetGroup('Source', 'source', facets.source, filters, q),
    facetGroup('ISCO major group', 'isco', facets.isco_major, filters, q, (v) => `ISCO ${v}`),
    facetGroup('EQF level', 'eqf', facets.eqf, filters, q, (v) => `EQF ${v}`));
  const list = el('ol', { class: 'results', start: offset + 1 });
  for (const hit of data.hits) {
    const english = hit.english_label && hit.english_label !== hit.label ? el('span', { class: 'meta', lang: 'en' }, `(${hit.english_label})`) : null;
    list.append(el('li', {},
      el('div', { class: 'title' }, badge(hit.kind), el('a', { href: href('concept', { id: hit.id }), lang: hit.lang }, hit.label), english),
      el('div', { class: 'meta' }, `${hit.source} · label in ${hit.lang}`),
      el('div', { class: 'why' }, why(hit))));
  }
  const body = el('div', {});
  if (data.notice) body.append(el('p', { class: 'notice' }, data.notice));
  const last = Math.min(offset + data.hits.length, data.total);
  body.append(el('p', { class: 'meta' }, data.total ? `Results ${offset + 1}–${last} of ${data.total}` + (kindFilter ? ` (${KIND_NAMES[kindFilter] || kindFilter})` : '') : ''));
  if (!data.hits.length) body.append(el('p', { class: 'empty' }, `Nothing found for “${q}”. Check the spelling, or remove a filter.`));
  body.append(list);
  const pager = el('nav', { class: 'pager', 'aria-label': 'Pages of results' });
  if (offset > 0) pager.append(el('a', { href: href('search', { q, ...filters, offset: String(Math.max(0, offset - PAGE_SIZE)) }) }, '← Previous'));
  if (offset + PAGE_SIZE < data.total) pager.append(el('a', { href: href('search', { q, ...filters, offset: String(offset + PAGE_SIZE) }) }, 'Next →'));
  body.append(pager);
  return el('div', { class: 'layout' }, aside, body);
}

// ---------- concept page ----------

function linkList(title, items, max) {
  if (!items || !items.length) return null;
  const shown = items.slice(0, max || items.length);
  const list = el('ul', { class: 'skill-list' }, shown.map((item) => el('li', {}, conceptLink(item), item.level ? ` (level ${item.level})` : '')));
  const section = el('section', {}, el('h2', {}, `${title} (${items.length})`), list);
  if (shown.length < items.length) {
    section.append(el('button', { type: 'button', class: 'link', onclick: (event) => {
      list.replaceChildren(...items.map((item) => el('li', {}, conceptLink(item))));
      event.target.remove();
    } }, `Show all ${items.length}`));
  }
  return section;
}

async function conceptPage(params) {
  const id = params.get('id');
  if (!id) { setPage('Concept', el('p', { class: 'error' }, 'No concept id in the address.')); return; }
  setPage('Concept', loading());
  let concept;
  try {
    concept = await api(`/concepts/${encodeURIComponent(id)}?lang=${state.lang}`);
  } catch (e) { setPage('Concept', errorBox(e)); return; }
  const facts = el('dl', { class: 'facts' },
    el('dt', {}, 'Kind'), el('dd', {}, badge(concept.kind)),
    el('dt', {}, 'Source'), el('dd', {}, concept.source),
    el('dt', {}, 'Identifier'), el('dd', {}, el('code', {}, concept.id)));
  const attrs = concept.attributes || {};
  if (attrs.isco_code) facts.append(el('dt', {}, 'ISCO-08'), el('dd', {}, attrs.isco_code));
  if (attrs.eqf_levels && attrs.eqf_levels.length) facts.append(el('dt', {}, 'EQF'), el('dd', {}, attrs.eqf_levels.join(', ')));
  if (attrs.url) facts.append(el('dt', {}, 'Link'), el('dd', {}, el('a', { href: attrs.url, rel: 'noopener' }, attrs.url)));
  if (concept.lang !== concept.requested_lang) {
    facts.append(el('dt', {}, 'Language'), el('dd', {}, `No ${langName(concept.requested_lang)} labels; shown in ${langName(concept.lang)}.`));
  }
  const labels = Object.entries(concept.labels_by_lang || {});
  const labelTable = labels.length > 1 ? el('details', {},
    el('summary', {}, `Labels in ${labels.length} languages`),
    el('table', { class: 'labels' }, el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, 'Language'), el('th', { scope: 'col' }, 'Label'))),
      el('tbody', {}, labels.map(([lang, label]) => el('tr', {}, el('td', {}, langName(lang)), el('td', { lang }, label)))))) : null;
  const materials = el('section', { 'aria-live': 'polite' }, el('h2', {}, 'Training materials'), loading());
  const similar = el('section', { 'aria-live': 'polite' }, el('h2', {}, 'Similar items from other sources'), loading());
  const main = document.getElementById('main');
  main.replaceChildren(
    el('p', {}, el('button', { type: 'button', class: 'link', onclick: () => history.back() }, '← Back')),
    el('h1', { lang: concept.lang }, concept.label),
    concept.description ? el('p', { lang: concept.lang }, concept.description) : null,
    facts,
    concept.alternative_labels && concept.alternative_labels.length ? el('p', { class: 'meta', lang: concept.lang }, `Also called: ${concept.alternative_labels.slice(0, 12).join(' · ')}`) : null,
    labelTable,
    el('div', { class: 'columns' },
      linkList('Essential skills', concept.essential_skills, 25),
      linkList('Optional skills', concept.optional_skills, 15),
      linkList('Competences', concept.competences),
      linkList('Broader', concept.broader),
      linkList('Narrower', concept.narrower, 15),
      linkList('Covers', concept.covers, 20),
      linkList('Covered by', concept.covered_by, 20),
      linkList('Related', concept.related, 15)),
    materials, similar);
  document.title = `${concept.label} · occusearch`;
  main.focus();
  // Materials: for a skill, those covering it; for an occupation or profile, those covering its essential skills.
  const skills = ['skill', 'skill-group', 'concept'].includes(concept.kind)
    ? [concept.id]
    : (concept.essential_skills || []).slice(0, 30).map((s) => s.id);
  if (concept.kind === 'material' || !skills.length) {
    materials.remove();
  } else {
    api('/materials/for-skills', { body: { skills, lang: state.lang, limit: 5 } })
      .then((data) => materials.replaceChildren(el('h2', {}, 'Training materials'), materialList(data.materials, 'No training material in the index covers these skills.')))
      .catch((e) => materials.replaceChildren(el('h2', {}, 'Training materials'), errorBox(e)));
  }
  api('/similar', { body: { id: concept.id, lang: state.lang, limit: 30 } })
    .then((data) => {
      const others = data.similar.filter((s) => s.source !== concept.source).slice(0, 8);
      similar.replaceChildren(el('h2', {}, 'Similar items from other sources'), similarList(others, 'Nothing close in the other sources.'));
    })
    .catch((e) => similar.replaceChildren(el('h2', {}, 'Similar items from other sources'), errorBox(e)));
}

// ---------- my skills ----------

function skillsPage(params) {
  const initial = params.getAll('s');
  const results = el('section', { 'aria-label': 'Matching occupations and profiles' });
  const kind = params.get('kind') || 'occupation,profile';
  const run = () => {
    const skills = chips.values();
    if (!skills.length) { results.replaceChildren(el('p', { class: 'error', role: 'alert' }, 'Add at least one skill first.')); return; }
    go('skills', { s: skills, kind });
  };
  const chips = chipInput('skill-input', 'Your skills, in any language', initial, () => run());
  const kindSelect = el('select', { id: 'match-kind', onchange: (event) => go('skills', { s: chips.values(), kind: event.target.value }) },
    [['occupation,profile', 'Occupations and profiles'], ['occupation', 'ESCO occupations'], ['profile', 'Sector profiles (ECSF…)']]
      .map(([value, text]) => el('option', { value, selected: value === kind }, text)));
  setPage('What can I do with my skills?',
    el('p', { class: 'lead' }, 'Enter the skills you have. We find occupations and sector profiles that need them, what you would still need, and training for it.'),
    chips.node,
    el('div', { class: 'row' },
      el('div', { class: 'field' }, el('label', { for: 'match-kind' }, 'Look among'), kindSelect),
      el('div', { class: 'field' }, el('button', { type: 'button', id: 'match-run', onclick: run }, 'Find matching occupations'))),
    results);
  if (!initial.length) {
    results.append(el('p', { class: 'empty' }, 'No skills yet. Try “Python programmieren”, “maschinelles Lernen”, “Datenanalyse”.'));
    return;
  }
  results.append(loading('Matching…'));
  api('/match', { body: { skills: initial, lang: state.lang, kind: kind.split(','), limit: 10 } }).then((data) => {
    chips.showResolution(data.resolved, data.unresolved);
    if (!data.matches.length) {
      results.replaceChildren(el('p', { class: 'empty' }, 'No occupation or profile lists these skills. Check the skills marked as not recognised.'));
      return;
    }
    results.replaceChildren(el('h2', {}, 'Matches'), el('ol', { class: 'results' }, data.matches.map(matchCard)));
    announce(`${data.matches.length} matches.`);
  }).catch((e) => results.replaceChildren(errorBox(e)));
}

function matchCard(m) {
  const b = m.breakdown;
  const gaps = m.missing_essential.slice(0, 5).map((gap) => el('li', {},
    conceptLink(gap), el('span', { class: 'gain' }, ` +${(100 * gap.gain).toFixed(1)} points`),
    gap.materials && gap.materials.length
      ? el('div', { class: 'meta' }, 'Learn it: ', gap.materials.flatMap((mat, i) => {
        const link = conceptLink(mat);
        const how = mat.via === 'relation' ? ' (linked)' : ` (similar, ${mat.similarity.toFixed(2)})`;
        return i ? [', ', link, how] : [link, how];
      }))
      : null));
  return el('li', { class: 'match' },
    el('div', { class: 'title' }, badge(m.kind), el('a', { href: href('concept', { id: m.id }), lang: m.lang }, m.label),
      el('span', { class: 'meta' }, `${m.source} · score ${m.score.toFixed(2)}`)),
    el('div', { class: 'coverage' },
      ...meter('Its skills you have', b.target_coverage),
      ...meter('Your skills it uses', b.user_coverage, 'user')),
    el('div', { class: 'meta' }, `Essential skills ${b.essential_matched} of ${b.essential_total}, optional ${b.optional_matched} of ${b.optional_total}; rank by skills #${b.coverage_rank}` + (b.semantic_rank ? `, by meaning #${b.semantic_rank}` : '')),
    m.matched_skills.length ? el('div', {}, el('strong', {}, 'You have: '), m.matched_skills.map((s, i) => [i ? ', ' : '', conceptLink(s)])) : null,
    m.partly_matched && m.partly_matched.length ? el('div', { class: 'meta' }, 'Partly: ', m.partly_matched.slice(0, 4).map((p, i) => [i ? ', ' : '', conceptLink(p), ` (from “${p.input}”)`])) : null,
    gaps.length ? el('details', { open: true }, el('summary', {}, `Missing essential skills (${m.missing_essential.length}), most useful first`), el('ul', { class: 'skill-list gaps' }, gaps)) : null);
}

// ---------- materials ----------

function materialList(materials, emptyText) {
  if (!materials.length) return el('p', { class: 'empty' }, emptyText);
  return el('ol', { class: 'results' }, materials.map((m) => el('li', { class: 'material' },
    el('div', { class: 'title' }, badge('material'), el('a', { href: href('concept', { id: m.id }), lang: m.lang }, m.label),
      el('span', { class: 'meta' }, `${m.source}${m.eqf_levels && m.eqf_levels.length ? ` · EQF ${m.eqf_levels.join(', ')}` : ''}`)),
    el('div', { class: 'coverage' }, ...meter('Your skills it covers', m.coverage)),
    el('ul', { class: 'skill-list' }, m.covers.slice(0, 6).map((c) => el('li', {},
      `“${c.input}”`, c.id && c.label !== c.input ? [' → ', c.label] : '',
      el('span', { class: 'meta' }, c.via === 'relation' ? ' (linked by the source)'
        : ` (${c.via === 'text' ? 'close to your text' : 'similar'}, ${c.similarity.toFixed(2)})`)))),
    m.url ? el('a', { href: m.url, rel: 'noopener' }, 'Open the material') : null)));
}

function materialsPage(params) {
  const initial = params.getAll('s');
  const eqf = params.get('eqf') || '';
  const results = el('section', { 'aria-label': 'Training materials' });
  const chips = chipInput('material-skills', 'Skills or topics to teach, in any language', initial, () => run());
  const eqfSelect = el('select', { id: 'eqf' }, el('option', { value: '' }, 'Any level'),
    [1, 2, 3, 4, 5, 6, 7, 8].map((level) => el('option', { value: level, selected: String(level) === eqf }, `EQF ${level}`)));
  const run = () => {
    const skills = chips.values();
    if (!skills.length) { results.replaceChildren(el('p', { class: 'error', role: 'alert' }, 'Add at least one skill or topic first.')); return; }
    go('materials', { s: skills, eqf: eqfSelect.value });
  };
  setPage('Find training materials to reuse',
    el('p', { class: 'lead' }, 'For a skill gap or a profile: existing training materials and what each covers, before you write a new one.'),
    chips.node,
    el('div', { class: 'row' },
      el('div', { class: 'field' }, el('label', { for: 'eqf' }, 'EQF level'), eqfSelect),
      el('div', { class: 'field' }, el('button', { type: 'button', id: 'materials-run', onclick: run }, 'Find materials'))),
    results);
  if (!initial.length) {
    results.append(el('p', { class: 'empty' }, 'No skills yet. Try “remote sensing”, “GIS”, “Qualität von Geodaten”.'));
    return;
  }
  results.append(loading('Looking for materials…'));
  const body = { skills: initial, lang: state.lang, limit: 20 };
  if (eqf) body.eqf = parseInt(eqf, 10);
  api('/materials/for-skills', { body }).then((data) => {
    chips.showResolution(data.resolved, data.unresolved);
    results.replaceChildren(el('h2', {}, 'Materials'), materialList(data.materials, 'No material in the index covers these skills' + (eqf ? ` at EQF ${eqf}` : '') + '.'));
    announce(`${data.materials.length} materials.`);
  }).catch((e) => results.replaceChildren(errorBox(e)));
}

// ---------- before you build ----------

function similarList(items, emptyText) {
  if (!items.length) return el('p', { class: 'empty' }, emptyText);
  return el('ol', { class: 'results' }, items.map((s) => el('li', { class: 'similar' },
    el('div', { class: 'title' }, badge(s.kind), el('a', { href: href('concept', { id: s.id }), lang: s.lang }, s.label),
      el('span', { class: 'meta' }, `${s.source} · similarity ${s.similarity.toFixed(2)}`)),
    el('div', { class: 'why' }, `Closest text: “${s.matched_text}”` +
      (s.label_overlap > 0 ? ` · ${percent(s.label_overlap)} of label words shared` : '') +
      (s.shared_skills > 0 ? ` · ${s.shared_skills} skills in common` : '')))));
}

function buildPage(params) {
  const title = params.get('title') || '';
  const text = params.get('text') || '';
  const kinds = (params.get('kind') || 'profile,material,occupation').split(',');
  const titleInput = el('input', { type: 'text', id: 'plan-title', value: title, placeholder: 'e.g. Ethical hacker' });
  const textInput = el('textarea', { id: 'plan-text', placeholder: 'What it is for, the tasks or learning outcomes…' });
  textInput.value = text;
  const kindBoxes = [['profile', 'Profiles'], ['material', 'Training materials'], ['occupation', 'Occupations'], ['skill', 'Skills']]
    .map(([value, label]) => el('label', { for: `plan-kind-${value}` },
      el('input', { type: 'checkbox', id: `plan-kind-${value}`, value, checked: kinds.includes(value) }), ` ${label}`));
  const results = el('section', { 'aria-label': 'Existing similar items' });
  const clusters = el('section', { 'aria-label': 'Duplicate clusters' });
  const form = el('form', { onsubmit: (event) => {
    event.preventDefault();
    const chosen = kindBoxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value);
    if (!titleInput.value.trim() && !textInput.value.trim()) {
      results.replaceChildren(el('p', { class: 'error', role: 'alert' }, 'Give a title or a description first.'));
      return;
    }
    go('build', { title: titleInput.value.trim(), text: textInput.value.trim(), kind: chosen.join(',') });
  } },
  el('div', { class: 'field' }, el('label', { for: 'plan-title' }, 'Title of the planned profile, material or tool'), titleInput),
  el('div', { class: 'field' }, el('label', { for: 'plan-text' }, 'Description (optional)'), textInput),
  el('fieldset', { class: 'field' }, el('legend', {}, 'Compare with'), ...kindBoxes),
  el('button', { type: 'submit', id: 'build-run' }, 'Check for existing work'));
  const threshold = el('select', { id: 'dup-min' },
    [['0.93', 'at least 0.93 (near copies)'], ['0.90', 'at least 0.90'], ['0.85', 'at least 0.85 (related)']]
      .map(([value, text]) => el('option', { value }, text)));
  const showClusters = el('button', { type: 'button', class: 'secondary', id: 'clusters-run', onclick: async () => {
    clusters.replaceChildren(loading('Comparing every profile and material across sources…'));
    try {
      const data = await api(`/duplicates?kind=profile,material&min_similarity=${threshold.value}`);
      clusters.replaceChildren(el('h2', {}, 'Near-duplicates across sources'),
        data.clusters.length ? el('ol', { class: 'results' }, data.clusters.map((c) => el('li', {},
          el('div', {}, c.members.map((m, i) => [i ? ' ≈ ' : '', badge(m.kind), ' ', el('a', { href: href('concept', { id: m.id }) }, m.label), el('span', { class: 'meta' }, ` (${m.source})`)])),
          el('div', { class: 'why' }, `Highest similarity ${c.max_similarity.toFixed(2)}; sources ${c.sources.join(', ')}`))))
          : el('p', { class: 'empty' }, `No profiles or materials from different sources are at least ${data.min_similarity} similar.`));
    } catch (e) { clusters.replaceChildren(errorBox(e)); }
  } }, 'Show near-duplicates across sources');
  setPage('Before you build: does it exist already?',
    el('p', { class: 'lead' }, 'Paste the title and description of the profile, training material or tool you plan. We show existing work that is close, with the evidence.'),
    form, results, el('h2', {}, 'Across the whole index'),
    el('div', { class: 'row' }, el('div', { class: 'field' }, el('label', { for: 'dup-min' }, 'Similarity'), threshold),
      el('div', { class: 'field' }, showClusters)),
    clusters);
  const query = [title, text].filter(Boolean).join('\n');
  if (!query) return;
  results.append(loading('Comparing…'));
  api('/similar', { body: { text: query.slice(0, 1000), kind: kinds, lang: state.lang, limit: 10 } })
    .then((data) => {
      results.replaceChildren(el('h2', {}, 'Existing similar items'), similarList(data.similar, 'Nothing similar in the index: it looks new.'));
      announce(`${data.similar.length} similar items.`);
    })
    .catch((e) => results.replaceChildren(errorBox(e)));
}

// ---------- shell ----------

const PAGES = { search: searchPage, concept: conceptPage, skills: skillsPage, materials: materialsPage, build: buildPage };

function render() {
  const { page, params } = route();
  const lang = params.get('lang');
  if (lang && state.languages.includes(lang)) {
    state.lang = lang;
    try { localStorage.setItem('occusearch-lang', lang); } catch (e) { /* private mode */ }
  }
  document.getElementById('lang').value = state.lang;
  for (const link of document.querySelectorAll('.top nav a')) {
    const current = link.dataset.page === page;
    if (current) link.setAttribute('aria-current', 'page'); else link.removeAttribute('aria-current');
    link.setAttribute('href', href(link.dataset.page, {}));
  }
  const view = PAGES[page];
  if (!view) { setPage('Not found', el('p', {}, 'This page does not exist. ', el('a', { href: href('search', {}) }, 'Go to search.'))); return; }
  Promise.resolve(view(params)).catch((e) => setPage('Error', errorBox(e)));
}

async function start() {
  const select = document.getElementById('lang');
  try {
    const stats = await api('/stats');
    const counts = stats.manifest && stats.manifest.counts && stats.manifest.counts.labels_per_lang;
    if (counts) state.languages = Object.keys(counts).sort();
  } catch (e) {
    document.getElementById('main').replaceChildren(errorBox(e));
  }
  let saved = null;
  try { saved = localStorage.getItem('occusearch-lang'); } catch (e) { /* private mode */ }
  const browser = (navigator.language || 'en').slice(0, 2).toLowerCase();
  state.lang = [saved, browser, 'en'].find((l) => l && state.languages.includes(l)) || state.languages[0];
  select.replaceChildren(...state.languages.map((code) => el('option', { value: code }, langName(code))));
  select.addEventListener('change', () => {
    const { page, params } = route();
    params.set('lang', select.value);
    state.lang = select.value;
    history.pushState(null, '', `#/${page}?${params}`);
    render();
  });
  window.addEventListener('popstate', render);
  window.addEventListener('hashchange', render);
  render();
}

start();
