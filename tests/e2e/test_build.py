"""The Build page in a browser: open it from the sidebar, edit a layer, see the numbers move."""

from .helpers import click_and_wait, expect, goto, sidebar_link, wait_for_run


def _parameters(page) -> str:
    metric = page.locator('[data-testid="stMetric"]').filter(has_text="Parameters").first
    return metric.locator('[data-testid="stMetricValue"]').inner_text()


def test_editing_a_layer_changes_the_table_and_the_address(page, app_url):
    goto(page, app_url)
    click_and_wait(page, sidebar_link(page, "Build a CNN"))
    expect(page.get_by_role("heading", name="Build a CNN")).to_be_visible()
    assert _parameters(page) == "19,920"
    table = page.locator('[data-testid="stDataFrame"]').first
    expect(table).to_be_visible()

    box = page.get_by_role("spinbutton", name="out channels")
    box.fill("20")
    box.press("Enter")
    wait_for_run(page)
    expect(page.locator('[data-testid="stMetricValue"]').first).not_to_have_text("19,920")
    assert _parameters(page) == "21,100"  # conv1 has 20 filters; conv2 reads 20 channels
    assert "net=" in page.url


def test_an_invalid_edit_shows_an_error_and_keeps_the_network(page, app_url):
    goto(page, f"{app_url}/build")
    box = page.get_by_role("spinbutton", name="kernel size")
    box.fill("80")
    box.press("Enter")
    wait_for_run(page)
    expect(
        page.locator('[data-testid="stAlert"]').filter(has_text="Layer 1 (conv)")
    ).to_be_visible()
    assert _parameters(page) == "19,920"


def test_opening_json_files_good_and_bad(page, app_url, tmp_path):
    from models.network.presets import PRESETS

    goto(page, f"{app_url}/build")
    bad = tmp_path / "bad.json"
    bad.write_text(
        '{"input": [3, 8, 8], "layers": [{"type": "conv", "out_channels": 4, "kernel_size": 12}]}'
    )
    upload = page.locator('[data-testid="stFileUploaderDropzoneInput"]').last
    upload.set_input_files(str(bad))
    wait_for_run(page)
    expect(page.locator('[data-testid="stAlert"]').filter(has_text="bad.json")).to_be_visible()
    assert _parameters(page) == "19,920"  # the network in use is untouched

    good = tmp_path / "lenet.json"
    good.write_text(PRESETS["LeNet-5"].spec.to_json())
    upload.set_input_files(str(good))
    wait_for_run(page)
    expect(page.locator('[data-testid="stMetricValue"]').first).to_have_text("61,706")


def test_a_shared_network_with_a_ceil_pool_shows_its_true_size_and_no_rounding_down(page, app_url):
    from models.network.spec import NetworkSpec
    from ui.state import encode_spec

    pool = {"type": "maxpool", "kernel_size": 2, "stride": 2, "padding": 1, "ceil_mode": True}
    spec = NetworkSpec.from_dict({"input": [1, 5, 5], "layers": [pool]})
    goto(page, f"{app_url}/build?net={encode_spec(spec)}")
    output = page.locator('[data-testid="stMetricValue"]').nth(2)
    expect(output).to_have_text("1 × 3 × 3", timeout=30_000)
    formula = page.locator("annotation").filter(has_text=r"[6 \ge 6] = 3").first
    expect(formula).to_be_attached()
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="drops that last window")
    expect(alert).to_be_visible()
    expect(page.locator('[data-testid="stAlert"]').filter(has_text="rounds down")).to_have_count(0)
