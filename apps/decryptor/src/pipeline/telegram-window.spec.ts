import { TelegramWindow } from './telegram-window';

const telegram = Buffer.from('1e442d2c9987347616', 'hex');

describe('TelegramWindow', () => {
  it('finds a stored telegram of the same meter within the window, not outside it nor for another meter', () => {
    const window = new TelegramWindow(60_000, 100);
    const key = TelegramWindow.keyOf('76348799', telegram);
    expect(window.isDuplicate(key, 1_000)).toBe(false);
    window.remember(key, 1_000);
    expect(window.isDuplicate(key, 1_500)).toBe(true);
    expect(window.isDuplicate(key, 61_000)).toBe(true);
    expect(window.isDuplicate(key, 61_001)).toBe(false);
    expect(window.isDuplicate(TelegramWindow.keyOf('76348790', telegram), 1_500)).toBe(false);
  });

  it('keeps the earliest receive time and evicts the oldest entries past its bound', () => {
    const window = new TelegramWindow(10, 2);
    const a = TelegramWindow.keyOf('A', telegram);
    window.remember(a, 100);
    window.remember(a, 105);
    expect(window.isDuplicate(a, 111)).toBe(false);
    window.remember(TelegramWindow.keyOf('B', telegram), 100);
    window.remember(TelegramWindow.keyOf('C', telegram), 100);
    expect(window.size).toBe(2);
    expect(window.isDuplicate(a, 100)).toBe(false);
  });

  it('never reports duplicates with a zero window', () => {
    const window = new TelegramWindow(0, 10);
    const key = TelegramWindow.keyOf('A', telegram);
    window.remember(key, 1);
    expect(window.isDuplicate(key, 1)).toBe(false);
  });
});
