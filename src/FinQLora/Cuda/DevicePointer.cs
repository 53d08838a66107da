using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace FinQLora.Cuda;

/// <summary>Raw data pointers of TorchSharp tensors, for passing to CUDA kernels.</summary>
public static partial class DevicePointer
{
    [LibraryImport("LibTorchSharp")] private static partial IntPtr THSTensor_data(IntPtr handle);

    /// <summary>The address of <paramref name="t"/>'s first element (its storage offset included).</summary>
    public static IntPtr Of(Tensor t)
    {
        var p = THSTensor_data(t.Handle);
        if (p == IntPtr.Zero && t.numel() > 0) throw new FinQLoraException("TorchSharp returned a null data pointer for a tensor");
        return p;
    }
}
