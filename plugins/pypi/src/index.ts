// The PyPI format (work in progress: see issue 6). Modules land here one by one.
export {};
