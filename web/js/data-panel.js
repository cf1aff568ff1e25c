// The data form: submit text, then follow each entry from pending to confirmed. The entries this
// browser sent are remembered (see storage.js) so a reload keeps following them.

import { api } from './api.js';
import { blockLink, el } from './dom.js';
import { forget, load, save } from './storage.js';

const STORE_KEY = 'bbchain.entries';
const REMEMBERED = 20;

export class DataPanel {
  constructor() {
    /** id → {id, text, status, height, block} */
    this.entries = new Map();
    this.list = document.getElementById('data-list');
    this.input = document.getElementById('data-input');
    this.error = document.getElementById('data-error');
    document.getElementById('data-form').addEventListener('submit', (event) => {
      event.preventDefault();
      this.submit();
    });
    try {
      for (const entry of JSON.parse(load(STORE_KEY) || '[]')) this.entries.set(entry.id, entry);
    } catch {
      forget(STORE_KEY);
    }
    this.render();
  }

  async submit() {
    const text = this.input.value;
    this.error.textContent = '';
    if (!text.trim()) {
      this.error.textContent = 'Write something first.';
      return;
    }
    const button = document.getElementById('data-submit');
    button.disabled = true;
    try {
      const answer = await api('api/data', { data: text });
      this.entries.delete(answer.id);
      this.entries.set(answer.id, { id: answer.id, text, status: 'pending' });
      this.update(answer);
      this.input.value = '';
      // The confirmation may have raced ahead of this answer on the event feed.
      if (answer.status !== 'confirmed') this.refresh(answer.id);
    } catch (error) {
      this.error.textContent = error.message;
    } finally {
      button.disabled = false;
    }
  }

  /** A `data` event, or an answer of the data API, about an entry. */
  update(message) {
    const entry = this.entries.get(message.id);
    if (!entry) return;
    entry.status = message.status;
    entry.height = message.height;
    entry.block = message.block;
    this.render();
  }

  async refresh(id) {
    try {
      this.update(await api(`api/data/${id}`));
    } catch (error) {
      // 404: the master no longer knows it (its data was deleted, or a reorg dropped it for good).
      if (error.status === 404) this.update({ id, status: 'unknown' });
      else console.warn('could not refresh entry', id, error);
    }
  }

  /** After a reconnect: events may have been missed. */
  refreshPending() {
    for (const entry of this.entries.values()) {
      if (entry.status !== 'confirmed') this.refresh(entry.id);
    }
  }

  render() {
    const newest = [...this.entries.values()].slice(-REMEMBERED);
    save(STORE_KEY, JSON.stringify(newest));
    this.list.replaceChildren(...newest.reverse().map((entry) => this.item(entry)));
  }

  item(entry) {
    const confirmed = entry.status === 'confirmed';
    return el(
      'li',
      { 'data-id': entry.id, 'data-status': entry.status },
      el('div', { class: 'entry-text' }, entry.text),
      el(
        'div',
        { class: 'entry-meta' },
        el('span', { class: `badge ${entry.status}` }, entry.status),
        confirmed && entry.block ? blockLink(entry.block, `in block #${entry.height}`) : null,
        el('code', { class: 'entry-id', title: 'entry id' }, entry.id),
      ),
    );
  }
}
