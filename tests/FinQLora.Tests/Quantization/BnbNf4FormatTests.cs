using System.Text;
using System.Text.Json;
using FinQLora.Quantization;
using static TorchSharp.torch;

namespace FinQLora.Tests.Quantization;

public class BnbNf4FormatTests
{
    private const string P = "model.layers.1.self_attn.q_proj";

    private static Nf4State Sample(bool doubleQuant = true, int bs = 64)
    {
        random.manual_seed(11);
        using var w = normal(0, 0.02, [48, 96]).to(ScalarType.BFloat16);
        return Nf4.Quantize(w, bs, doubleQuant);
    }

    private static string Json(IReadOnlyDictionary<string, Tensor> t, string type = "nf4") =>
        Encoding.UTF8.GetString(t[P + ".weight.quant_state.bitsandbytes__" + type].bytes.ToArray());

    [Fact]
    public void Writes_exactly_the_tensors_bitsandbytes_saves()
    {
        using var scope = NewDisposeScope();
        using var s = Sample();
        var t = BnbNf4Format.ToTensors(P, s);
        Assert.Equal(new[] { ".weight", ".weight.absmax", ".weight.quant_map", ".weight.nested_absmax", ".weight.nested_quant_map", ".weight.quant_state.bitsandbytes__nf4" }
            .Select(x => P + x).Order(), t.Keys.Order());
        Assert.Equal(new long[] { 48 * 96 / 2, 1 }, t[P + ".weight"].shape);
        Assert.Equal(ScalarType.Byte, t[P + ".weight"].dtype);
        Assert.Equal(ScalarType.Byte, t[P + ".weight.absmax"].dtype);
        Assert.Equal(new long[] { 72 }, t[P + ".weight.absmax"].shape);
        Assert.Equal(new long[] { 16 }, t[P + ".weight.quant_map"].shape);
        Assert.Equal(new long[] { 1 }, t[P + ".weight.nested_absmax"].shape);
        Assert.Equal(new long[] { 256 }, t[P + ".weight.nested_quant_map"].shape);
        // json.dumps of bitsandbytes' dict: ", " and ": " separators, keys in this order, offset as Python repr
        var offset = BnbNf4Format.PythonFloat(s.Nested!.Offset);
        Assert.Equal($"{{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [48, 96], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": {offset}}}", Json(t));
        Assert.Equal((double)s.Nested.Offset, double.Parse(offset, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Without_double_quantization_there_are_no_nested_tensors_and_the_absmax_is_fp32()
    {
        using var scope = NewDisposeScope();
        using var s = Sample(doubleQuant: false, bs: 128);
        var t = BnbNf4Format.ToTensors(P, s);
        Assert.Equal(4, t.Count);
        Assert.Equal(ScalarType.Float32, t[P + ".weight.absmax"].dtype);
        Assert.Equal("{\"quant_type\": \"nf4\", \"blocksize\": 128, \"dtype\": \"bfloat16\", \"shape\": [48, 96]}", Json(t));
        var back = BnbNf4Format.FromTensors(P, n => t.GetValueOrDefault(n));
        Assert.Null(back.Nested);
        Assert.True(Nf4.Dequantize(back, ScalarType.Float32).equal(Nf4.Dequantize(s, ScalarType.Float32)).all().item<bool>());
    }

    [Fact]
    public void Reading_back_what_was_written_gives_the_same_state()
    {
        using var scope = NewDisposeScope();
        using var s = Sample();
        var t = BnbNf4Format.ToTensors(P, s);
        var back = BnbNf4Format.FromTensors(P, n => t.GetValueOrDefault(n));
        Assert.Equal(s.Shape, back.Shape);
        Assert.Equal(s.BlockSize, back.BlockSize);
        Assert.Equal(ScalarType.BFloat16, back.DType);
        Assert.Equal(s.Nested!.Offset, back.Nested!.Offset);
        Assert.Equal(s.Packed.bytes.ToArray(), back.Packed.bytes.ToArray());
        Assert.True(Nf4.Dequantize(back, ScalarType.BFloat16).equal(Nf4.Dequantize(s, ScalarType.BFloat16)).all().item<bool>());
    }

    [Fact]
    public void Packed_codes_stored_as_bf16_are_read_as_their_bytes()
    {
        // quant_storage=bfloat16: the same bytes, [(n+1)/4, 1] of bf16
        using var scope = NewDisposeScope();
        using var s = Sample();
        var t = new Dictionary<string, Tensor>(BnbNf4Format.ToTensors(P, s));
        var bytes = t[P + ".weight"].bytes.ToArray();
        var asBf16 = empty([bytes.Length / 2, 1], ScalarType.BFloat16);
        asBf16.bytes = bytes;
        t[P + ".weight"] = asBf16;
        var back = BnbNf4Format.FromTensors(P, n => t.GetValueOrDefault(n));
        Assert.Equal(bytes, back.Packed.bytes.ToArray());
    }

    [Fact]
    public void Fp4_checkpoints_are_read_with_the_fp4_code()
    {
        using var scope = NewDisposeScope();
        var w = tensor(Nf4.Fp4Code).view(2, 8);
        using var s = Nf4.Quantize(w, 64, true, Bnb4BitType.Fp4);
        var t = BnbNf4Format.ToTensors(P, s);
        Assert.Contains(P + ".weight.quant_state.bitsandbytes__fp4", t.Keys);
        Assert.StartsWith("{\"quant_type\": \"fp4\"", Json(t, "fp4"));
        var back = BnbNf4Format.FromTensors(P, n => t.GetValueOrDefault(n));
        Assert.Equal(Bnb4BitType.Fp4, back.QuantType);
        Assert.True(Nf4.Dequantize(back, ScalarType.Float32).equal(w).all().item<bool>());
    }

    private static FinQLoraException ReadWith(Action<Dictionary<string, Tensor>> corrupt)
    {
        using var s = Sample();
        var t = new Dictionary<string, Tensor>(BnbNf4Format.ToTensors(P, s));
        corrupt(t);
        return Assert.Throws<FinQLoraException>(() => BnbNf4Format.FromTensors(P, n => t.GetValueOrDefault(n)));
    }

    private static Tensor JsonTensor(string json) => tensor(Encoding.UTF8.GetBytes(json));

    [Fact]
    public void A_missing_nested_key_names_the_tensor()
    {
        using var scope = NewDisposeScope();
        var e = ReadWith(t => t.Remove(P + ".weight.nested_absmax"));
        Assert.Contains($"'{P}.weight.nested_absmax' is missing", e.Message);
        e = ReadWith(t => t.Remove(P + ".weight.nested_quant_map"));
        Assert.Contains($"'{P}.weight.nested_quant_map' is missing", e.Message);
    }

    [Fact]
    public void A_missing_quant_state_names_the_tensor()
    {
        using var scope = NewDisposeScope();
        var e = ReadWith(t => t.Remove(P + ".weight.quant_state.bitsandbytes__nf4"));
        Assert.Contains($"'{P}.weight.quant_state.bitsandbytes__nf4' is missing", e.Message);
    }

    [Fact]
    public void A_quant_state_shape_that_disagrees_with_the_weight_is_an_error()
    {
        using var scope = NewDisposeScope();
        var e = ReadWith(t => t[P + ".weight.quant_state.bitsandbytes__nf4"] =
            JsonTensor("{\"quant_type\": \"nf4\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [96, 96], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.01}"));
        Assert.Contains($"'{P}.weight' holds 2304 bytes", e.Message);
        Assert.Contains("[96, 96]", e.Message);
    }

    [Fact]
    public void An_unsupported_block_size_is_an_error_naming_the_quant_state()
    {
        using var scope = NewDisposeScope();
        var e = ReadWith(t => t[P + ".weight.quant_state.bitsandbytes__nf4"] =
            JsonTensor("{\"quant_type\": \"nf4\", \"blocksize\": 48, \"dtype\": \"bfloat16\", \"shape\": [48, 96], \"nested_blocksize\": 256, \"nested_dtype\": \"float32\", \"nested_offset\": 0.01}"));
        Assert.Contains("bitsandbytes__nf4", e.Message);
        Assert.Contains("block size 48", e.Message);
    }

    [Fact]
    public void An_absmax_of_the_wrong_length_is_an_error()
    {
        using var scope = NewDisposeScope();
        var e = ReadWith(t => t[P + ".weight.absmax"] = zeros(70, ScalarType.Byte));
        Assert.Contains($"'{P}.weight.absmax' has 70 values, expected 72", e.Message);
    }

    [Fact]
    public void A_non_4bit_quant_type_in_the_state_is_an_error()
    {
        using var scope = NewDisposeScope();
        var e = ReadWith(t => t[P + ".weight.quant_state.bitsandbytes__nf4"] =
            JsonTensor("{\"quant_type\": \"int8\", \"blocksize\": 64, \"dtype\": \"bfloat16\", \"shape\": [48, 96]}"));
        Assert.Contains("quant_type 'int8'", e.Message);
    }

    [Theory]
    [InlineData(0.0123456789f, "0.012345679104328156")]
    [InlineData(1e-05f, "9.999999747378752e-06")]
    [InlineData(0.5f, "0.5")]
    [InlineData(2f, "2.0")]
    [InlineData(0.0001f, "9.999999747378752e-05")]
    [InlineData(0.001f, "0.0010000000474974513")]
    [InlineData(3e16f, "3.000000081769267e+16")]
    public void Floats_are_written_as_Python_repr_of_the_float32_value(float v, string expected)
    {
        // expected: Python 3 repr(struct.unpack("f", struct.pack("f", v))[0])
        Assert.Equal(expected, BnbNf4Format.PythonFloat(v));
    }
}
