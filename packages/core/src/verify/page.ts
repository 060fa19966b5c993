// How many hunks a page of a diff holds (a module of its own: the API schemas read it without the diff engine).

export const HUNKS_PER_PAGE = 20;
export const HUNKS_PER_PAGE_MAX = 100;
