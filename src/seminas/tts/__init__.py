"""SemiNAS's text-to-speech search (paper, Sec. 4.3): a Transformer-TTS space of 12 layers
(6 encoder, 6 decoder; 11 candidate operations each), a weight-sharing supernet scored by the
diagonal focus rate of its encoder-decoder attention, and a CPU-scale pipeline on any corpus in
the LJSpeech layout."""
