package io.zaro.kafka.record;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import io.zaro.conntrack.ConntrackEntry;
import io.zaro.conntrack.ConntrackEvent;
import io.zaro.conntrack.IpProtocol;
import io.zaro.conntrack.SctpInfo;
import io.zaro.conntrack.SctpState;
import io.zaro.conntrack.TcpInfo;
import io.zaro.conntrack.TcpState;
import io.zaro.conntrack.Tuple;
import io.zaro.kafka.proto.v1.EventType;
import io.zaro.kafka.proto.v1.Flow;
import io.zaro.kafka.proto.v1.FlowKey;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Encodes {@link FlowRecord}s and flow keys as {@code zaro.v1} Protocol Buffers, and decodes
 * them back, treating every input as hostile: anything that is not a complete, valid version-1
 * record is a {@link MalformedRecordException}, never another exception.
 *
 * <p>Why Protocol Buffers: records are small (varints, no field names: under 200 bytes even for
 * an IPv6 flow with labels and a helper, see the codec's test), the schema file decodes them
 * outside Java ({@code protoc --decode}), the parser is hardened against hostile input, and
 * adding fields later keeps old readers working.
 */
public final class FlowRecordCodec {
    public static final int FORMAT_VERSION = 1;
    /** No valid record comes near this; larger input is refused before parsing. */
    public static final int MAX_RECORD_BYTES = 2048;
    private static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9._-]{1," + FlowRecord.MAX_NODE_ID_LENGTH + "}");
    /** Names of the kernel's helpers (ftp, sip, Q.931, netbios-ns, snmp_trap...), never longer than it allows. */
    private static final Pattern HELPER = Pattern.compile("[A-Za-z0-9._-]{1," + ConntrackEntry.MAX_HELPER_NAME + "}");
    /** The status bits the kernel defines ({@code IPS_EXPECTED} to {@code IPS_HW_OFFLOAD}). */
    private static final int KNOWN_STATUS_BITS = 0xFFFF;

    private FlowRecordCodec() {
    }

    // ------------------------------------------------------------------ encode

    public static byte[] encode(FlowRecord r) {
        return io.zaro.kafka.proto.v1.FlowRecord.newBuilder()
                .setFormatVersion(FORMAT_VERSION)
                .setEvent(switch (r.type()) {
                    case NEW -> EventType.NEW;
                    case UPDATE -> EventType.UPDATE;
                    case DESTROY -> EventType.DESTROY;
                })
                .setNodeId(r.nodeId())
                .setSequence(r.sequence())
                .setTimestampMicros(epochMicros(r.timestamp()))
                .setFlow(flow(r.entry()))
                .build()
                .toByteArray();
    }

    /**
     * Microseconds since the epoch, for every timestamp a record can carry: decode takes any
     * int64 ({@code timestamp_micros}), about 292 000 years either side of 1970, whereas
     * {@code ChronoUnit.MICROS.between} counts in nanoseconds on the way and overflows after
     * 2262-04-11. Rounded down to the microsecond; beyond int64 microseconds it throws
     * {@link ArithmeticException}.
     */
    static long epochMicros(Instant t) {
        long seconds = t.getEpochSecond();
        long micros = t.getNano() / 1_000;
        if (seconds < 0 && micros > 0) {
            // As Instant.toEpochMilli: the smallest int64 of microseconds has seconds*10^6 below it.
            return Math.addExact(Math.multiplyExact(seconds + 1, 1_000_000L), micros - 1_000_000L);
        }
        return Math.addExact(Math.multiplyExact(seconds, 1_000_000L), micros);
    }

    /** The Kafka key of a flow: zone and original tuple. Equal flows give equal bytes. */
    public static byte[] encodeKey(ConntrackEntry e) {
        return encodeKey(FlowId.of(e));
    }

    private static Flow flow(ConntrackEntry e) {
        Flow.Builder f = Flow.newBuilder()
                .setOriginal(tuple(e.original()))
                .setReply(tuple(e.reply()))
                .setStatus(e.status())
                .setMark((int) e.mark())
                .setZone(e.zone())
                .addAllLabels(e.labels());
        if (e.timeout() != null) {
            f.setTimeout((int) (long) e.timeout());
        }
        if (e.helper() != null) {
            f.setHelper(e.helper());
        }
        if (e.tcp() != null) {
            TcpInfo t = e.tcp();
            f.setTcp(io.zaro.kafka.proto.v1.TcpInfo.newBuilder().setState(t.state().kernelValue())
                    .setWindowScaleOriginal(t.windowScaleOriginal()).setWindowScaleReply(t.windowScaleReply())
                    .setFlagsOriginal(t.flagsOriginal()).setFlagsReply(t.flagsReply()));
        }
        if (e.sctp() != null) {
            SctpInfo s = e.sctp();
            f.setSctp(io.zaro.kafka.proto.v1.SctpInfo.newBuilder().setState(s.state().kernelValue())
                    .setVtagOriginal((int) s.vtagOriginal()).setVtagReply((int) s.vtagReply()));
        }
        return f.build();
    }

    private static io.zaro.kafka.proto.v1.Tuple tuple(Tuple t) {
        return io.zaro.kafka.proto.v1.Tuple.newBuilder()
                .setSource(ByteString.copyFrom(t.source().getAddress()))
                .setDestination(ByteString.copyFrom(t.destination().getAddress()))
                .setProtocol(t.protocol().number())
                .setSourcePort(t.sourcePort()).setDestinationPort(t.destinationPort())
                .setIcmpType(t.icmpType()).setIcmpCode(t.icmpCode()).setIcmpId(t.icmpId())
                .build();
    }

    // ------------------------------------------------------------------ decode

    /** Decodes a record value; anything but a complete, valid version-1 record is refused. */
    public static FlowRecord decode(byte[] bytes) throws MalformedRecordException {
        if (bytes == null || bytes.length == 0) {
            throw new MalformedRecordException("empty record");
        }
        if (bytes.length > MAX_RECORD_BYTES) {
            throw new MalformedRecordException("record of " + bytes.length + " bytes exceeds " + MAX_RECORD_BYTES);
        }
        io.zaro.kafka.proto.v1.FlowRecord p;
        try {
            p = io.zaro.kafka.proto.v1.FlowRecord.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new MalformedRecordException("not a zaro record: " + e.getMessage(), e);
        }
        if (p.getFormatVersion() != FORMAT_VERSION) {
            throw new MalformedRecordException("unknown record format version " + p.getFormatVersion());
        }
        ConntrackEvent.Type type = switch (p.getEvent()) {
            case NEW -> ConntrackEvent.Type.NEW;
            case UPDATE -> ConntrackEvent.Type.UPDATE;
            case DESTROY -> ConntrackEvent.Type.DESTROY;
            default -> throw new MalformedRecordException("unknown event type " + p.getEventValue());
        };
        if (!p.hasFlow()) {
            throw new MalformedRecordException("record without a flow");
        }
        if (!NODE_ID.matcher(p.getNodeId()).matches()) {
            // It reaches log lines and metrics labels: letters, digits, '.', '_' and '-' only, as node.id allows.
            throw new MalformedRecordException("node id is not 1-" + FlowRecord.MAX_NODE_ID_LENGTH
                    + " letters, digits, '.', '_' or '-'");
        }
        if ((p.getFlow().getStatus() & ~KNOWN_STATUS_BITS) != 0) {
            throw new MalformedRecordException("status 0x" + Integer.toHexString(p.getFlow().getStatus())
                    + " has bits the kernel does not define");
        }
        if (!p.getFlow().getHelper().isEmpty() && !HELPER.matcher(p.getFlow().getHelper()).matches()) {
            throw new MalformedRecordException("helper name is not letters, digits, '.', '_' or '-'");
        }
        try {
            long micros = p.getTimestampMicros();
            Instant timestamp = Instant.EPOCH.plus(micros, ChronoUnit.MICROS);
            return new FlowRecord(type, p.getNodeId(), p.getSequence(), timestamp, entry(p.getFlow()));
        } catch (RuntimeException e) {
            // Values the domain types refuse (a port above 65535, an unknown TCP state...).
            throw new MalformedRecordException("invalid record: " + e.getMessage(), e);
        }
    }

    /** Decodes a record key; anything but a valid {@code zaro.v1.FlowKey} is refused. */
    public static FlowId decodeKey(byte[] bytes) throws MalformedRecordException {
        if (bytes == null || bytes.length == 0) {
            throw new MalformedRecordException("empty key");
        }
        if (bytes.length > MAX_RECORD_BYTES) {
            throw new MalformedRecordException("key of " + bytes.length + " bytes exceeds " + MAX_RECORD_BYTES);
        }
        FlowKey k;
        try {
            k = FlowKey.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new MalformedRecordException("not a zaro key: " + e.getMessage(), e);
        }
        if (!k.hasOriginal()) {
            throw new MalformedRecordException("key without a tuple");
        }
        try {
            return new FlowId(k.getZone(), tuple(k.getOriginal()));
        } catch (RuntimeException e) {
            throw new MalformedRecordException("invalid key: " + e.getMessage(), e);
        }
    }

    /** The key of a flow, as {@link #encodeKey(ConntrackEntry)} gives it. */
    public static byte[] encodeKey(FlowId id) {
        return FlowKey.newBuilder().setZone(id.zone()).setOriginal(tuple(id.original())).build().toByteArray();
    }

    private static ConntrackEntry entry(Flow f) throws MalformedRecordException {
        if (!f.hasOriginal() || !f.hasReply()) {
            throw new MalformedRecordException("flow without both tuples");
        }
        ConntrackEntry.Builder b = ConntrackEntry.builder(tuple(f.getOriginal()))
                .reply(tuple(f.getReply()))
                .status(f.getStatus())
                .timeout(f.hasTimeout() ? Integer.toUnsignedLong(f.getTimeout()) : null)
                .mark(Integer.toUnsignedLong(f.getMark()))
                .zone(f.getZone())
                .helper(f.getHelper().isEmpty() ? null : f.getHelper());
        if (f.getLabelsCount() > ConntrackEntry.MAX_LABEL_BIT + 1) {
            throw new MalformedRecordException("flow with " + f.getLabelsCount() + " labels");
        }
        List<Integer> labels = f.getLabelsList();
        b.labels(labels);
        if (f.hasTcp()) {
            io.zaro.kafka.proto.v1.TcpInfo t = f.getTcp();
            b.tcp(new TcpInfo(TcpState.fromKernel(t.getState()), t.getWindowScaleOriginal(), t.getWindowScaleReply(),
                    t.getFlagsOriginal(), t.getFlagsReply()));
        }
        if (f.hasSctp()) {
            io.zaro.kafka.proto.v1.SctpInfo s = f.getSctp();
            b.sctp(new SctpInfo(SctpState.fromKernel(s.getState()), Integer.toUnsignedLong(s.getVtagOriginal()),
                    Integer.toUnsignedLong(s.getVtagReply())));
        }
        return b.build();
    }

    private static Tuple tuple(io.zaro.kafka.proto.v1.Tuple t) throws MalformedRecordException {
        if (t.getProtocol() > 255) {
            throw new MalformedRecordException("protocol number " + Integer.toUnsignedString(t.getProtocol()));
        }
        return new Tuple(address(t.getSource()), address(t.getDestination()), new IpProtocol(t.getProtocol()),
                t.getSourcePort(), t.getDestinationPort(), t.getIcmpType(), t.getIcmpCode(), t.getIcmpId());
    }

    private static InetAddress address(ByteString raw) throws MalformedRecordException {
        if (raw.size() != 4 && raw.size() != 16) {
            throw new MalformedRecordException("address of " + raw.size() + " bytes");
        }
        try {
            byte[] bytes = raw.toByteArray();
            // Inet6Address keeps ::ffff:a.b.c.d an IPv6 address; InetAddress.getByAddress would not.
            return bytes.length == 16 ? java.net.Inet6Address.getByAddress(null, bytes, -1) : InetAddress.getByAddress(bytes);
        } catch (UnknownHostException e) {
            throw new MalformedRecordException("bad address", e);
        }
    }
}
