/**
 * Kafka transport of conntrack state: record format, topics, producer and consumer. Empty until
 * the mirroring issue; the module exists so the build's JNA fence covers it from the start.
 */
package io.zaro.kafka;
