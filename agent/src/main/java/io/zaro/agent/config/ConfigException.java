package io.zaro.agent.config;

/** A configuration value zaro cannot use; the message is one sentence naming the key and the fix. */
public final class ConfigException extends RuntimeException {
    private final String key;

    public ConfigException(String key, String message) {
        super(message);
        this.key = key;
    }

    /** The offending key, or null when the problem is the file itself. */
    public String key() {
        return key;
    }
}
