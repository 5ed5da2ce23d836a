#!/usr/bin/env python3
"""Drives `pki serve`'s /ui/ in headless Chromium (Selenium WebDriver, Debian's chromedriver)
and prints what a person would see as one JSON object; tests/ui.rs asserts it.

    ui_check.py BASE_URL SHOT_DIR REVOKED_SERIAL XSS_SERIAL

Every observation is read from the DOM after the browser rendered the page: counts, findings,
timeline buckets, table rows, the width of the document at 1280 and 390 pixels, whether any
script element or injected element exists. Screenshots go to SHOT_DIR.
"""
import json
import sys

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select, WebDriverWait

base, shots, revoked, xss = sys.argv[1:5]

opts = webdriver.ChromeOptions()
for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--force-device-scale-factor=1",
          "--hide-scrollbars", "--lang=en-US"]:
    opts.add_argument(a)
opts.binary_location = "/usr/bin/chromium"
d = webdriver.Chrome(options=opts, service=Service("/usr/bin/chromedriver"))
d.set_page_load_timeout(30)
out = {"console": []}


def size(width, height=900):
    # The window's outer size is larger than the viewport; set the viewport through CDP.
    d.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                      {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600})


def widths():
    return d.execute_script("return [document.documentElement.scrollWidth, window.innerWidth]")


def texts(css):
    return [e.text for e in d.find_elements(By.CSS_SELECTOR, css)]


def shot(name, width):
    size(width, 900)
    h = d.execute_script("return document.documentElement.scrollHeight")
    size(width, min(h, 4000))
    d.save_screenshot(f"{shots}/{name}-{width}.png")
    size(width, 900)


def wait_url(part):
    WebDriverWait(d, 10).until(lambda drv: part in drv.current_url and
                               drv.execute_script("return document.readyState") == "complete")


def rows():
    return [e.get_attribute("data-serial") for e in d.find_elements(By.CSS_SELECTOR, "#certs tbody tr")]


# The overview.
size(1280)
d.get(base + "/ui/")
out["title"] = d.title
out["totals"] = {k: d.find_element(By.ID, "total-" + k).text for k in ["certificates", "valid", "expiring", "expired", "revoked"]}
out["findings"] = [(e.get_attribute("data-severity"), e.get_attribute("data-code")) for e in
                   d.find_elements(By.CSS_SELECTOR, "#findings tbody tr")]
out["timeline"] = {e.get_attribute("data-day"): int(e.get_attribute("data-total")) for e in
                   d.find_elements(By.CSS_SELECTOR, "#timeline g[data-day]") if e.get_attribute("data-total") != "0"}
out["legend"] = texts(".legend li")
out["cas"] = [e.get_attribute("data-ca") for e in d.find_elements(By.CSS_SELECTOR, "#cas tbody tr")]
out["expiring_rows"] = len(d.find_elements(By.CSS_SELECTOR, "#expiring tbody tr"))
out["scripts"] = len(d.find_elements(By.TAG_NAME, "script"))
out["overview_1280"] = widths()
shot("overview", 1280)
size(390)
d.get(base + "/ui/")
out["overview_390"] = widths()
shot("overview", 390)

# The inventory table: paging, search (typed, Enter), a filter (chosen, submitted by keyboard).
size(1280)
d.get(base + "/ui/certs")
out["certs_first_page"] = len(rows())
out["matching"] = d.find_element(By.ID, "matching").text
nxt = d.find_elements(By.CSS_SELECTOR, "a[rel=next]")
if nxt:
    nxt[0].click()
    wait_url("page=2")
    out["certs_second_page"] = len(rows())
    out["second_matching"] = d.find_element(By.ID, "matching").text
d.get(base + "/ui/certs")
box = d.find_element(By.NAME, "q")
box.send_keys("svc-b")
box.send_keys(Keys.ENTER)
wait_url("q=svc-b")
out["search_svc_b"] = [r for r in rows()]
out["search_names"] = texts("#certs tbody td.names")
d.get(base + "/ui/certs")
Select(d.find_element(By.NAME, "status")).select_by_value("revoked")
d.find_element(By.CSS_SELECTOR, "button[type=submit]").send_keys(Keys.ENTER)
wait_url("status=revoked")
out["filter_revoked"] = rows()
Select(d.find_element(By.NAME, "status")).select_by_value("valid")
Select(d.find_element(By.NAME, "profile")).select_by_value("web")
d.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
wait_url("profile=web")
out["filter_valid_web"] = len(rows())
out["url_after_filter"] = d.current_url
shot("certs", 1280)
size(390)
out["certs_390"] = widths()
shot("certs", 390)

# A revoked certificate's page: state and history.
size(1280)
d.get(base + "/ui/cert/" + revoked)
out["revoked_status"] = d.find_element(By.ID, "status").text
out["revoked_line"] = d.find_element(By.ID, "revoked").text
out["revoked_history"] = [e.get_attribute("data-event") for e in d.find_elements(By.CSS_SELECTOR, "#history tbody tr")]
out["revoked_actors"] = texts("#history tbody td:nth-child(3)")
shot("cert", 1280)
size(390)
out["cert_390"] = widths()

# Ledger text a user controls, shown as text: no element made from it, no script.
size(1280)
d.get(base + "/ui/cert/" + xss)
out["xss_history_text"] = d.find_element(By.ID, "history").text
out["xss_injected"] = len(d.find_elements(By.CSS_SELECTOR, "#history img, #history script, #history b"))
out["xss_scripts"] = len(d.find_elements(By.TAG_NAME, "script"))
out["xss_alerted"] = d.execute_script("return window.__pwned === true")
d.get(base + "/ui/certs?q=" + "%3Cscript%3Ewindow.__pwned%3Dtrue%3C%2Fscript%3E")
out["xss_query_value"] = d.find_element(By.NAME, "q").get_attribute("value")
out["xss_query_scripts"] = len(d.find_elements(By.TAG_NAME, "script"))
out["xss_query_alerted"] = d.execute_script("return window.__pwned === true")
try:
    out["console"] = [e["message"] for e in d.get_log("browser")]
except Exception:
    pass
d.quit()
print(json.dumps(out))
