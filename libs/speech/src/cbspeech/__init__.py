"""Speech providers (TTS/STT) behind one interface: Yandex SpeechKit, espeak-ng, pocketsphinx."""
