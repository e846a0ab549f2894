// The time-zone pick-list: Russia's zones first (by their usual names), then every IANA
// zone the web view knows. The core validates the choice against its own IANA database.
import type { Key } from '../i18n/ru';
import { currentLang } from './i18n.svelte';

const RUSSIA: { id: string; offset: string; city: string; cityEn: string }[] = [
  { id: 'Europe/Kaliningrad', offset: 'UTC+2', city: 'Калининград', cityEn: 'Kaliningrad' },
  { id: 'Europe/Moscow', offset: 'UTC+3', city: 'Москва, Санкт-Петербург, Обнинск', cityEn: 'Moscow, Saint Petersburg, Obninsk' },
  { id: 'Europe/Samara', offset: 'UTC+4', city: 'Самара, Ижевск', cityEn: 'Samara, Izhevsk' },
  { id: 'Europe/Volgograd', offset: 'UTC+3', city: 'Волгоград', cityEn: 'Volgograd' },
  { id: 'Europe/Saratov', offset: 'UTC+4', city: 'Саратов', cityEn: 'Saratov' },
  { id: 'Europe/Ulyanovsk', offset: 'UTC+4', city: 'Ульяновск', cityEn: 'Ulyanovsk' },
  { id: 'Europe/Astrakhan', offset: 'UTC+4', city: 'Астрахань', cityEn: 'Astrakhan' },
  { id: 'Asia/Yekaterinburg', offset: 'UTC+5', city: 'Екатеринбург, Челябинск, Тюмень', cityEn: 'Yekaterinburg, Chelyabinsk, Tyumen' },
  { id: 'Asia/Omsk', offset: 'UTC+6', city: 'Омск', cityEn: 'Omsk' },
  { id: 'Asia/Novosibirsk', offset: 'UTC+7', city: 'Новосибирск', cityEn: 'Novosibirsk' },
  { id: 'Asia/Barnaul', offset: 'UTC+7', city: 'Барнаул', cityEn: 'Barnaul' },
  { id: 'Asia/Tomsk', offset: 'UTC+7', city: 'Томск', cityEn: 'Tomsk' },
  { id: 'Asia/Novokuznetsk', offset: 'UTC+7', city: 'Новокузнецк, Кемерово', cityEn: 'Novokuznetsk, Kemerovo' },
  { id: 'Asia/Krasnoyarsk', offset: 'UTC+7', city: 'Красноярск', cityEn: 'Krasnoyarsk' },
  { id: 'Asia/Irkutsk', offset: 'UTC+8', city: 'Иркутск, Улан-Удэ', cityEn: 'Irkutsk, Ulan-Ude' },
  { id: 'Asia/Chita', offset: 'UTC+9', city: 'Чита', cityEn: 'Chita' },
  { id: 'Asia/Yakutsk', offset: 'UTC+9', city: 'Якутск', cityEn: 'Yakutsk' },
  { id: 'Asia/Vladivostok', offset: 'UTC+10', city: 'Владивосток, Хабаровск', cityEn: 'Vladivostok, Khabarovsk' },
  { id: 'Asia/Sakhalin', offset: 'UTC+11', city: 'Южно-Сахалинск', cityEn: 'Yuzhno-Sakhalinsk' },
  { id: 'Asia/Magadan', offset: 'UTC+11', city: 'Магадан', cityEn: 'Magadan' },
  { id: 'Asia/Srednekolymsk', offset: 'UTC+11', city: 'Среднеколымск', cityEn: 'Srednekolymsk' },
  { id: 'Asia/Kamchatka', offset: 'UTC+12', city: 'Петропавловск-Камчатский', cityEn: 'Petropavlovsk-Kamchatsky' },
  { id: 'Asia/Anadyr', offset: 'UTC+12', city: 'Анадырь', cityEn: 'Anadyr' },
];

export interface ZoneGroup {
  label: Key;
  zones: { id: string; label: string }[];
}

export function timeZoneGroups(): ZoneGroup[] {
  const ru = currentLang() === 'ru';
  const russia = RUSSIA.map((z) => ({ id: z.id, label: `${z.offset} — ${ru ? z.city : z.cityEn} (${z.id})` }));
  let all: string[] = [];
  try {
    all = (Intl as unknown as { supportedValuesOf(k: string): string[] }).supportedValuesOf('timeZone');
  } catch {
    all = [];
  }
  const known = new Set(RUSSIA.map((z) => z.id));
  const others = all.filter((z) => !known.has(z) && z.includes('/')).map((z) => ({ id: z, label: z }));
  if (!all.includes('UTC')) others.unshift({ id: 'UTC', label: 'UTC' });
  return [
    { label: 'school.zones_russia', zones: russia },
    { label: 'school.zones_all', zones: others },
  ];
}
