# Build the Windows bundle and its Inno Setup installer. NOT TESTED HERE (the project's
# machines run Linux); it mirrors packaging/build_linux.sh. See packaging/README.md.
#
#   powershell -ExecutionPolicy Bypass -File packaging\build_windows.ps1 [-WithWeights] [-NoInstaller]
#
# Needs Python 3.10+ (the `py` launcher) and Inno Setup 6 (iscc.exe on PATH, or in its
# default folder). Output: dist\texstudio\ (texstudio.exe windowed, texstudio-cli.exe for
# the command line) and dist\texstudio-<version>-windows-x64-setup.exe.
param([switch]$WithWeights, [switch]$NoInstaller, [string]$Python = "3.11")
$ErrorActionPreference = "Stop"
Set-Location (Split-Path -Parent $PSScriptRoot)

$venv = "build\venv-windows"
if (-not (Test-Path "$venv\Scripts\python.exe")) { py -$Python -m venv $venv }
$py = "$venv\Scripts\python.exe"
# PyPI's torch for Windows is CPU-only: the "default" variant here has no CUDA. For CUDA,
# install torch/torchvision from PyTorch's CUDA index into the venv first (bundle: several GB).
& $py -m pip install -c constraints.txt -c packaging\build-constraints.txt -e . pyinstaller
if ($LASTEXITCODE) { throw "pip install failed" }

$env:TEXSTUDIO_VARIANT = "default"
$env:TEXSTUDIO_BUNDLE_WEIGHTS = $(if ($WithWeights) { "1" } else { "0" })
& $py -m PyInstaller --noconfirm --clean --log-level WARN --distpath dist --workpath build\pyinstaller-windows packaging\texstudio.spec
if ($LASTEXITCODE) { throw "PyInstaller failed" }

& dist\texstudio\texstudio-cli.exe --version
if ($LASTEXITCODE) { throw "the bundle does not start" }

if (-not $NoInstaller) {
  $version = (Select-String -Path texstudio\__init__.py -Pattern '^__version__ = "(.*)"').Matches[0].Groups[1].Value
  $iscc = (Get-Command iscc.exe -ErrorAction SilentlyContinue).Source
  if (-not $iscc) { $iscc = "${env:ProgramFiles(x86)}\Inno Setup 6\ISCC.exe" }
  & $iscc "/DAppVersion=$version" packaging\texstudio.iss
  if ($LASTEXITCODE) { throw "Inno Setup failed" }
}
