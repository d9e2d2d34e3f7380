def generate_corpus(*a, **k):
    raise NotImplementedError
