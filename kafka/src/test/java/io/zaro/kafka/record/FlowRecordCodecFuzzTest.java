package io.zaro.kafka.record;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import org.junit.jupiter.api.Timeout;

/**
 * Fuzzes the record decoder, which reads what anyone who can write to the topics wrote (issue 9).
 * Every input either decodes or is refused with {@link MalformedRecordException}; any other
 * exception, an {@link OutOfMemoryError} or an input that runs past the timeout is a finding.
 * What decodes is a fixed point of the codec: re-encoded and decoded again it is the same record,
 * and re-encoding that gives the same bytes (the input itself need not be canonical: protobuf
 * allows fields in any order, repeated, or with default values written out, and the labels are
 * kept as a sorted set).
 *
 * <p>In {@code mvn test} each method runs on the empty input and its files in
 * {@code src/test/resources/io/zaro/kafka/record/FlowRecordCodecFuzzTestInputs/METHOD/}
 * (seeds from {@link FlowRecordSeeds}, findings Jazzer wrote there); README, "Fuzzing the decoder",
 * says how to fuzz.
 */
class FlowRecordCodecFuzzTest {

    @FuzzTest
    @Timeout(10) // in fuzzing, libFuzzer's -timeout: an input that takes this long is a hang
    void decode(byte[] bytes) throws MalformedRecordException {
        FlowRecord record;
        try {
            record = FlowRecordCodec.decode(bytes);
        } catch (MalformedRecordException refused) {
            return;
        }
        assertTrue(bytes.length <= FlowRecordCodec.MAX_RECORD_BYTES, "decoded a record of " + bytes.length + " bytes");
        byte[] canonical = FlowRecordCodec.encode(record);
        assertTrue(canonical.length <= FlowRecordCodec.MAX_RECORD_BYTES,
                "a decoded record re-encodes to " + canonical.length + " bytes, more than a reader takes");
        FlowRecord again = FlowRecordCodec.decode(canonical);
        assertEquals(record, again, "decode(encode(record))");
        assertArrayEquals(canonical, FlowRecordCodec.encode(again), "the re-encoded form is not stable");

        // The key a publisher would write for this record's flow names the same flow.
        FlowId id = FlowId.of(record.entry());
        assertEquals(id, FlowRecordCodec.decodeKey(FlowRecordCodec.encodeKey(record.entry())));
    }

    @FuzzTest
    @Timeout(10)
    void decodeKey(byte[] bytes) throws MalformedRecordException {
        FlowId id;
        try {
            id = FlowRecordCodec.decodeKey(bytes);
        } catch (MalformedRecordException refused) {
            return;
        }
        byte[] canonical = FlowRecordCodec.encodeKey(id);
        FlowId again = FlowRecordCodec.decodeKey(canonical);
        assertEquals(id, again, "decodeKey(encodeKey(id))");
        assertArrayEquals(canonical, FlowRecordCodec.encodeKey(again), "the re-encoded key is not stable");
        // A DESTROY without more to say carries the bare entry of its key: it too keys the same flow.
        assertEquals(id, FlowId.of(id.bareEntry()));
    }
}
