package io.zaro.kafka.record;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The fuzz tests' seed corpus is what {@link FlowRecordSeeds} writes, its valid seeds decode to
 * the records they were made from and its malformed ones are refused: so the corpus that
 * {@code mvn test} runs through {@link FlowRecordCodecFuzzTest} holds every kind of flow.
 */
class FlowRecordSeedsTest {

    @ParameterizedTest
    @ValueSource(strings = {"decode", "decodeKey"})
    void theCommittedSeedsAreTheGeneratedOnes(String method) throws IOException {
        for (Map.Entry<String, byte[]> f : FlowRecordSeeds.files(method).entrySet()) {
            String resource = FlowRecordSeeds.INPUTS + "/" + method + "/" + f.getKey();
            try (InputStream in = getClass().getClassLoader().getResourceAsStream(resource)) {
                assertTrue(in != null, resource + " is missing: regenerate the seeds (FlowRecordSeeds)");
                assertArrayEquals(f.getValue(), in.readAllBytes(), resource + " differs: regenerate the seeds (FlowRecordSeeds)");
            }
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"decode", "decodeKey"})
    void validSeedsDecodeAndMalformedOnesAreRefused(String method) {
        Map<String, FlowRecord> records = FlowRecordSeeds.records();
        int valid = 0;
        for (Map.Entry<String, byte[]> f : FlowRecordSeeds.files(method).entrySet()) {
            String name = f.getKey();
            byte[] bytes = f.getValue();
            if (name.startsWith("valid-")) {
                FlowRecord expected = records.get(name.substring("valid-".length()));
                if (method.equals("decode")) {
                    assertEquals(expected, assertDoesNotThrow(() -> FlowRecordCodec.decode(bytes)), name);
                } else {
                    assertEquals(FlowId.of(expected.entry()), assertDoesNotThrow(() -> FlowRecordCodec.decodeKey(bytes)), name);
                }
                valid++;
            } else {
                assertTrue(name.startsWith("malformed-"), name);
                assertThrows(MalformedRecordException.class,
                        () -> {
                            if (method.equals("decode")) {
                                FlowRecordCodec.decode(bytes);
                            } else {
                                FlowRecordCodec.decodeKey(bytes);
                            }
                        }, name);
            }
        }
        assertEquals(records.size(), valid);
    }
}
